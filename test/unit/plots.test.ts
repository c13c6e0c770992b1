import { createCanvas, loadImage } from '@napi-rs/canvas';
import { confusionMatrixPng, featureImportancePng, precisionRecallPng, rocCurvePng } from '../../lib/plots/evaluation';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Decodes a PNG and counts pixels that are not white: a drawn plot has plenty, a blank one none. */
async function inspect(png: Buffer) {
  const image = await loadImage(png);
  const canvas = createCanvas(image.width, image.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(image, 0, 0);
  const { data } = ctx.getImageData(0, 0, image.width, image.height);
  let inked = 0;
  let transparent = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3]! < 255) transparent++;
    if (data[i]! < 200 || data[i + 1]! < 200 || data[i + 2]! < 200) inked++;
  }
  return { width: image.width, height: image.height, inked, transparent };
}

/** The evaluation plots logged to MLflow are real, opaque PNG images with something drawn on them. */
describe('evaluation plots', () => {
  const x = Array.from({ length: 5000 }, (_, i) => i / 4999);

  it.each([
    ['ROC', () => rocCurvePng({ x, y: x.map(Math.sqrt) }, 0.91, 'xgboost')],
    ['precision-recall', () => precisionRecallPng({ x, y: x.map((v) => 1 - v * v) }, 0.8, 0.0017, 'xgboost')],
    ['confusion matrix', () => confusionMatrixPng({ tp: 60, fp: 12, tn: 42600, fn: 14 }, 0.73, 'xgboost')],
    ['feature importance', () => featureImportancePng(['V14', 'V12', 'Amount'], [0.5, 0.3, 0.2], 'xgboost')],
  ])('%s renders an opaque, non-blank PNG', async (_name, render) => {
    const png = render();
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    const info = await inspect(png);
    expect(info.width).toBeGreaterThanOrEqual(300);
    expect(info.height).toBeGreaterThanOrEqual(300);
    expect(info.transparent).toBe(0);
    expect(info.inked / (info.width * info.height)).toBeGreaterThan(0.005);
  });

  it('differs when the data differs (the curve is really drawn)', () => {
    const a = rocCurvePng({ x, y: x.map(Math.sqrt) }, 0.9, 'm');
    const b = rocCurvePng({ x, y: x }, 0.9, 'm');
    expect(a.equals(b)).toBe(false);
  });
});
