import { createCanvas, type SKRSContext2D } from '@napi-rs/canvas';
import { Chart, type ChartConfiguration, type Plugin } from 'chart.js/auto';

export interface PlotSize {
  /** @default 800 */
  width?: number;
  /** @default 600 */
  height?: number;
}

// Chart.js draws on a transparent canvas; MLflow's artifact viewer shows PNGs on white or dark
// backgrounds, so every plot gets an opaque white one.
const whiteBackground: Plugin = {
  id: 'whiteBackground',
  beforeDraw(chart) {
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.globalCompositeOperation = 'destination-over';
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
};

/**
 * Renders a Chart.js configuration to PNG bytes, off-screen (skia through @napi-rs/canvas, whose
 * binary ships inside its npm package). Static: no animation, no responsiveness.
 */
export function renderChartPng(config: ChartConfiguration, size: PlotSize = {}): Buffer {
  const width = size.width ?? 800;
  const height = size.height ?? 600;
  const canvas = createCanvas(width, height);
  const chart = new Chart(canvas.getContext('2d') as unknown as ConstructorParameters<typeof Chart>[0], {
    ...config,
    options: { ...config.options, responsive: false, animation: false, devicePixelRatio: 1 },
    plugins: [...(config.plugins ?? []), whiteBackground],
  } as ChartConfiguration);
  try {
    return canvas.toBuffer('image/png');
  } finally {
    chart.destroy();
  }
}

/** Draws directly on a white canvas (for plots Chart.js has no type for, such as a confusion matrix). */
export function renderCanvasPng(draw: (ctx: SKRSContext2D, width: number, height: number) => void, size: PlotSize = {}): Buffer {
  const width = size.width ?? 800;
  const height = size.height ?? 600;
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  draw(ctx, width, height);
  return canvas.toBuffer('image/png');
}
