import { renderCanvasPng, renderChartPng, type PlotSize } from './render';

/** Points of a curve, in drawing order. */
export interface Curve {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

export interface ConfusionCounts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

const BLUE = '#1f77b4';
const GREY = '#999999';
// A curve of 285k points draws as fast as one of 2k but makes a PNG no sharper: keep the shape.
const MAX_POINTS = 2000;

function points(curve: Curve): { x: number; y: number }[] {
  const n = Math.min(curve.x.length, curve.y.length);
  const step = Math.max(1, Math.ceil(n / MAX_POINTS));
  const out: { x: number; y: number }[] = [];
  for (let i = 0; i < n; i += step) out.push({ x: curve.x[i]!, y: curve.y[i]! });
  if (n > 0 && (n - 1) % step !== 0) out.push({ x: curve.x[n - 1]!, y: curve.y[n - 1]! });
  return out;
}

const unitAxes = (x: string, y: string) => ({
  x: { type: 'linear' as const, min: 0, max: 1, title: { display: true, text: x } },
  y: { type: 'linear' as const, min: 0, max: 1.02, title: { display: true, text: y } },
});

/** ROC curve with its AUC in the title and the chance diagonal. */
export function rocCurvePng(curve: Curve, auc: number, title: string, size?: PlotSize): Buffer {
  return renderChartPng(
    {
      type: 'scatter',
      data: {
        datasets: [
          { label: `ROC (AUC ${auc.toFixed(4)})`, data: points(curve), showLine: true, pointRadius: 0, borderColor: BLUE, borderWidth: 2 },
          { label: 'chance', data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, pointRadius: 0, borderColor: GREY, borderDash: [6, 6], borderWidth: 1 },
        ],
      },
      options: { plugins: { title: { display: true, text: `${title} — ROC curve` } }, scales: unitAxes('False positive rate', 'True positive rate') },
    },
    size,
  );
}

/** Precision-recall curve with average precision in the title and the no-skill line at the fraud rate. */
export function precisionRecallPng(curve: Curve, averagePrecision: number, prevalence: number, title: string, size?: PlotSize): Buffer {
  return renderChartPng(
    {
      type: 'scatter',
      data: {
        datasets: [
          { label: `PR (AP ${averagePrecision.toFixed(4)})`, data: points(curve), showLine: true, pointRadius: 0, borderColor: BLUE, borderWidth: 2, stepped: 'before' },
          { label: `no skill (${(prevalence * 100).toFixed(3)} % fraud)`, data: [{ x: 0, y: prevalence }, { x: 1, y: prevalence }], showLine: true, pointRadius: 0, borderColor: GREY, borderDash: [6, 6], borderWidth: 1 },
        ],
      },
      options: { plugins: { title: { display: true, text: `${title} — precision-recall curve` } }, scales: unitAxes('Recall', 'Precision') },
    },
    size,
  );
}

/** Top features by importance as horizontal bars, largest first. */
export function featureImportancePng(names: readonly string[], importance: ArrayLike<number>, title: string, top = 20, size?: PlotSize): Buffer {
  const order = Array.from({ length: names.length }, (_, i) => i)
    .sort((a, b) => importance[b]! - importance[a]!)
    .slice(0, top);
  return renderChartPng(
    {
      type: 'bar',
      data: { labels: order.map((i) => names[i]!), datasets: [{ label: 'importance', data: order.map((i) => importance[i]!), backgroundColor: BLUE }] },
      options: {
        indexAxis: 'y',
        plugins: { title: { display: true, text: `${title} — feature importance (top ${order.length})` }, legend: { display: false } },
      },
    },
    { width: size?.width ?? 800, height: size?.height ?? Math.max(300, 60 + order.length * 24) },
  );
}

/** 2×2 confusion matrix with counts and row-normalised rates, at the decision threshold. */
export function confusionMatrixPng(c: ConfusionCounts, threshold: number, title: string, size?: PlotSize): Buffer {
  return renderCanvasPng(
    (ctx, width, height) => {
      const cells = [
        [c.tn, c.fp],
        [c.fn, c.tp],
      ] as const;
      const rowTotals = [c.tn + c.fp, c.fn + c.tp];
      const left = 170;
      const top = 90;
      const cell = Math.min((width - left - 40) / 2, (height - top - 70) / 2);
      ctx.fillStyle = '#000000';
      ctx.font = 'bold 20px sans-serif';
      ctx.textAlign = 'center';
      ctx.fillText(`${title} — confusion matrix (threshold ${threshold.toPrecision(4)})`, width / 2, 36);
      ctx.font = '16px sans-serif';
      ctx.fillText('Predicted', left + cell, top - 30);
      ['legit (0)', 'fraud (1)'].forEach((label, j) => ctx.fillText(label, left + cell * j + cell / 2, top - 8));
      ctx.textAlign = 'right';
      ['Actual legit (0)', 'Actual fraud (1)'].forEach((label, i) => ctx.fillText(label, left - 12, top + cell * i + cell / 2 + 6));
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 2; j++) {
          const count = cells[i]![j]!;
          const rate = rowTotals[i]! > 0 ? count / rowTotals[i]! : 0;
          // Row-normalised shading: the rare fraud row is as readable as the huge legit row.
          const shade = Math.round(255 - rate * 200);
          ctx.fillStyle = `rgb(${shade}, ${shade}, 255)`;
          ctx.fillRect(left + cell * j, top + cell * i, cell, cell);
          ctx.strokeStyle = '#333333';
          ctx.strokeRect(left + cell * j, top + cell * i, cell, cell);
          ctx.fillStyle = rate > 0.6 ? '#ffffff' : '#000000';
          ctx.textAlign = 'center';
          ctx.font = 'bold 24px sans-serif';
          ctx.fillText(String(count), left + cell * j + cell / 2, top + cell * i + cell / 2);
          ctx.font = '16px sans-serif';
          ctx.fillText(`${(rate * 100).toFixed(2)} %`, left + cell * j + cell / 2, top + cell * i + cell / 2 + 26);
        }
      }
    },
    size,
  );
}
