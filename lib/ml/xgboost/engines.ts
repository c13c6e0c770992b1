/**
 * Which engine runs: the native libxgboost when it loads, the wasm build otherwise, and for saved
 * models the engine that reads their format. Library code never logs: {@link engineSelection}
 * returns the reason and callers log it once.
 */
import { ModelFormatError } from '../errors';
import type { EngineBooster, EngineMatrix, EngineSession, MatrixInput, PredictOptions, XGBoostEngine } from './engine';
import { XGBoostEngineError } from './errors';
import { loadNativeEngine, NATIVE_MODEL_FORMAT, type NativeLibraryLookup } from './native-engine';
import { extractTrees, predictMargins, type TreeEnsemble } from './trees';
import { WASM_MODEL_FORMAT, wasmEngine } from './wasm-engine';

export interface EngineSelection {
  engine: XGBoostEngine;
  /** One line for the log: which engine and why, e.g. `native: libxgboost 3.2.0 from …` or the load failure. */
  reason: string;
}

/** Selections by lookup; the outcome of loading a library does not change while the process runs. */
const selections = new Map<string, EngineSelection>();

/**
 * The native engine when libxgboost loads (see `findNativeLibrary`; `XGBOOST_LIBRARY=/nonexistent`
 * forces wasm), else the wasm engine, with the reason. Never throws.
 */
export function engineSelection(lookup: NativeLibraryLookup = {}): EngineSelection {
  const key = JSON.stringify([lookup.libraryPath ?? null, lookup.venvDir ?? null, process.env.XGBOOST_LIBRARY ?? null, process.env.VENV_DIR ?? null]);
  const cached = selections.get(key);
  if (cached) return cached;
  let selection: EngineSelection;
  try {
    const engine = loadNativeEngine(lookup);
    selection = { engine, reason: `xgboost engine: native libxgboost ${engine.version} from ${engine.libraryPath}` };
  } catch (error) {
    selection = { engine: wasmEngine, reason: `xgboost engine: wasm (${wasmEngine.name}), because ${error instanceof Error ? error.message : String(error)}` };
  }
  selections.set(key, selection);
  return selection;
}

/** The models' default engine: {@link engineSelection}'s engine. */
export function defaultEngine(): XGBoostEngine {
  return engineSelection().engine;
}

/**
 * The engine that reads `modelFormat`: wasm for `xgboost-0.7-binary`; for `xgboost-json` the native
 * engine, or, without it, {@link treeScorerEngine} (the project's TypeScript scorer of the trees).
 * @throws ModelFormatError for any other format
 */
export function engineForFormat(modelFormat: unknown): XGBoostEngine {
  if (modelFormat === WASM_MODEL_FORMAT) return wasmEngine;
  if (modelFormat === NATIVE_MODEL_FORMAT) {
    const selected = defaultEngine();
    return selected.modelFormat === NATIVE_MODEL_FORMAT ? selected : treeScorerEngine;
  }
  throw new ModelFormatError(`no engine reads model format ${String(modelFormat)}; known: ${WASM_MODEL_FORMAT}, ${NATIVE_MODEL_FORMAT}`);
}

class ScorerMatrix implements EngineMatrix {
  constructor(
    readonly features: Float32Array,
    readonly numRows: number,
    readonly numFeatures: number,
  ) {}
  free(): void {
    // Plain JS memory: nothing to release.
  }
}

class ScorerBooster implements EngineBooster {
  constructor(private readonly ensemble: TreeEnsemble) {}
  setParams(): void {
    // Prediction needs no parameters.
  }
  updateOneIter(): void {
    throw new XGBoostEngineError('the TypeScript tree scorer cannot train; install the native libxgboost', 'XGBoosterUpdateOneIter');
  }
  predict(matrix: EngineMatrix, options: PredictOptions = {}): Float32Array {
    if (!(matrix instanceof ScorerMatrix)) throw new TypeError('predict: the matrix belongs to another engine');
    const margins = predictMargins(this.ensemble, matrix.features, matrix.numRows);
    if (options.outputMargin) return margins;
    // float32 like XGBoost's sigmoid, so probabilities round the same way.
    return margins.map((m) => 1 / (1 + Math.exp(-m)));
  }
  save(): Uint8Array {
    throw new XGBoostEngineError('the TypeScript tree scorer does not write models', 'XGBoosterSaveModelToBuffer');
  }
  free(): void {
    // Plain JS memory: nothing to release.
  }
}

/**
 * Scores `xgboost-json` models with the project's TypeScript tree scorer (`trees.ts`), for hosts
 * without libxgboost: loading and prediction only, no training. Slower than the native engine and
 * equal to it to ~1e-6 (float32 summation order).
 */
export const treeScorerEngine: XGBoostEngine = Object.freeze({
  name: 'typescript tree scorer (xgboost-json)',
  modelFormat: NATIVE_MODEL_FORMAT,
  canTrain: false,
  openSession(): EngineSession {
    return {
      createMatrix(input: MatrixInput): EngineMatrix {
        const { features, numRows, numFeatures } = input;
        if (features.length !== numRows * numFeatures) throw new RangeError(`expected ${numRows}×${numFeatures} values, got ${features.length}`);
        return new ScorerMatrix(features, numRows, numFeatures);
      },
      createBooster(): EngineBooster {
        throw new XGBoostEngineError('the TypeScript tree scorer cannot train; install the native libxgboost', 'XGBoosterCreate');
      },
      loadBooster(model: Uint8Array): EngineBooster {
        return new ScorerBooster(extractTrees(model, NATIVE_MODEL_FORMAT));
      },
      close(): void {
        // Nothing native to release.
      },
    };
  },
});
