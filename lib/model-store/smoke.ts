/**
 * The smoke test every model set passes before it is made visible (writer) and before it serves
 * (loader): score a few rows with every member and with the ensemble, and require finite
 * probabilities in [0, 1]. It catches a model that loads but cannot score (wrong weights shape,
 * NaN parameters), not a bad model: quality is the evaluation's job.
 */
import type { ModelKind } from '../ml/types';
import type { LoadedModelSet } from '../serving/contract';
import { SmokeTestError } from './errors';

/** Rows of the default smoke test. */
export const SMOKE_ROWS = 4;

/**
 * `rows` deterministic rows of `numFeatures` values: all zeros, then values in [-3, 3] from a
 * fixed linear congruential sequence (about where standardised features live).
 */
export function smokeFeatures(numFeatures: number, rows = SMOKE_ROWS): Float32Array {
  const out = new Float32Array(rows * numFeatures);
  let state = 0x2545f491;
  for (let i = numFeatures; i < out.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = (state / 0x1_0000_0000) * 6 - 3;
  }
  return out;
}

/** Why `scores` are not `numRows` finite probabilities, or undefined when they are. */
function problemWith(scores: Float32Array, numRows: number): string | undefined {
  if (scores.length !== numRows) return `expected ${numRows} scores, got ${scores.length}`;
  for (let i = 0; i < scores.length; i++) {
    const p = scores[i]!;
    if (!Number.isFinite(p) || p < 0 || p > 1) return `row ${i} scored ${p}, not a probability in [0, 1]`;
  }
  return undefined;
}

/**
 * Scores `features` with every member of `set` (`set.models`) and with the ensemble; throws
 * `SmokeTestError` naming the member's file (`fileOf(kind)`), or `manifestFile` for the ensemble,
 * when a score is not a finite probability or scoring throws.
 */
export function smokeTest(
  set: LoadedModelSet,
  fileOf: (kind: ModelKind) => string,
  manifestFile: string,
  features: Float32Array = smokeFeatures(set.featureNames.length),
): void {
  const numRows = features.length / set.featureNames.length;
  if (!Number.isInteger(numRows) || numRows < 1) {
    throw new RangeError(`smoke-test features must be whole rows of ${set.featureNames.length} values, got ${features.length}`);
  }
  for (const [kind, model] of set.models) {
    let scores: Float32Array;
    try {
      scores = model.predictProba(features, numRows);
    } catch (cause) {
      throw new SmokeTestError(fileOf(kind), kind, `scoring threw: ${(cause as Error).message}`, { cause });
    }
    const problem = problemWith(scores, numRows);
    if (problem) throw new SmokeTestError(fileOf(kind), kind, problem);
  }
  const problem = problemWith(set.predictEnsemble(features, numRows), numRows);
  if (problem) throw new SmokeTestError(manifestFile, undefined, problem);
}
