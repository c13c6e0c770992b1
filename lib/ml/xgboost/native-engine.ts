/**
 * The XGBoost engine on the native `libxgboost` (3.x, the library inside the PyPI `xgboost` wheel),
 * called through koffi's FFI. Same interface as the wasm engine; 5-15× faster (multi-threaded, modern
 * `hist`), and it has what the 0.7x wasm build lacks (`colsample_bynode`, JSON models).
 *
 * - Where the library is: `XGBOOST_LIBRARY` (a file path) wins; otherwise the `xgboost` package of
 *   the project's Python venv (`$VENV_DIR` or `<repo>/.venv`, `lib/python3*\/site-packages/xgboost/lib/`).
 * - Matrices are copied in once (`XGDMatrixCreateFromMat_omp`, `NaN` = missing); boosting is one
 *   `XGBoosterUpdateOneIter` per round; predictions use `XGBoosterPredictFromDMatrix`. Every handle
 *   lives in a session and is freed by `free()`, by `session.close()`, or, for a session nobody
 *   closed, when the garbage collector reclaims the session object.
 * - Models are XGBoost JSON (`XGBoosterSaveModelToBuffer` with `{"format":"json"}`), the format
 *   `json-model.ts` reads into the project's tree format.
 * - Errors: a non-zero return becomes an `XGBoostEngineError` with `XGBGetLastError()`'s message
 *   (without its stack trace). Unlike the wasm build, XGBoost catches its own C++ exceptions at the
 *   C API boundary, so a session stays usable after an error.
 * - `nthread` defaults to the machine's core count (`os.availableParallelism()`); pass `nthread`
 *   in the booster parameters to change it.
 * - `updateOneIterAsync` runs the round on one of koffi's worker threads, so a long call (a whole
 *   random forest) does not block the event loop. XGBoost's last-error message is thread-local, so
 *   a failure there is reported without XGBoost's text.
 */
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type { BoosterParams, EngineBooster, EngineMatrix, EngineSession, MatrixInput, PredictOptions, XGBoostEngine } from './engine';
import { XGBoostEngineError } from './errors';

/** Name of the byte format of native models: XGBoost's JSON model (any XGBoost ≥ 1.0 reads it). */
export const NATIVE_MODEL_FORMAT = 'xgboost-json';
/** Oldest libxgboost major version this engine accepts (JSON models, `PredictFromDMatrix`, `colsample_bynode`). */
const MIN_MAJOR_VERSION = 2;

/** What koffi returns for an opaque pointer: an external object, or `null`. */
type Handle = object;
type KoffiFn = ((...args: unknown[]) => unknown) & { async: (...args: unknown[]) => void };

interface Koffi {
  load(path: string): { func(name: string, result: unknown, args: unknown[]): KoffiFn };
  pointer(ref: unknown): unknown;
  opaque(): unknown;
  out(type: unknown): unknown;
  view(ptr: unknown, length: number): ArrayBuffer;
  decode(ptr: unknown, type: string): unknown;
}

/** The C API functions used, bound once per library (and thread). */
interface CApi {
  version: string;
  lastError(): string;
  createMatrix(data: Float32Array, nrow: number, ncol: number, missing: number, out: [Handle | null], nthread: number): number;
  setFloatInfo(handle: Handle, field: string, values: Float32Array, len: number): number;
  freeMatrix(handle: Handle): number;
  createBooster(matrices: Handle[], len: number, out: [Handle | null]): number;
  setParam(handle: Handle, key: string, value: string): number;
  updateOneIter: KoffiFn;
  predict(handle: Handle, matrix: Handle, config: string, shape: [unknown], dim: [number], result: [unknown]): number;
  save(handle: Handle, config: string, len: [number | bigint], out: [unknown]): number;
  load(handle: Handle, bytes: Uint8Array, len: number): number;
  freeBooster(handle: Handle): number;
  view(ptr: unknown, length: number): ArrayBuffer;
  decodeU64(ptr: unknown): number;
}

/** Where the native library would be loaded from, and why that path. */
export interface NativeLibraryLocation {
  path: string | undefined;
  source: string;
}

/** Options of {@link findNativeLibrary}; by default read from `process.env`. */
export interface NativeLibraryLookup {
  /** Explicit path to `libxgboost.so` / `.dylib`. @default process.env.XGBOOST_LIBRARY (unless `venvDir` is given) */
  libraryPath?: string;
  /** The Python venv holding the `xgboost` package. @default process.env.VENV_DIR, else `<repo>/.venv` */
  venvDir?: string;
}

/** Finds libxgboost: `libraryPath`/`XGBOOST_LIBRARY` first, then the venv's `xgboost` package. */
export function findNativeLibrary(lookup: NativeLibraryLookup = {}): NativeLibraryLocation {
  // Options beat the environment: an explicit venvDir is searched even when XGBOOST_LIBRARY is set.
  const explicit = lookup.libraryPath ?? (lookup.venvDir === undefined ? process.env.XGBOOST_LIBRARY : undefined);
  if (explicit) return { path: explicit, source: lookup.libraryPath ? 'libraryPath option' : 'XGBOOST_LIBRARY' };
  // This file is lib/ml/xgboost/: the repository root is three levels up.
  const venv = lookup.venvDir ?? process.env.VENV_DIR ?? resolve(__dirname, '..', '..', '..', '.venv');
  const libDir = join(venv, 'lib');
  let pythons: string[] = [];
  try {
    pythons = readdirSync(libDir).filter((name) => name.startsWith('python3')).sort();
  } catch {
    return { path: undefined, source: `no venv at ${venv}` };
  }
  for (const python of pythons) {
    for (const file of ['libxgboost.so', 'libxgboost.dylib']) {
      const candidate = join(libDir, python, 'site-packages', 'xgboost', 'lib', file);
      if (existsSync(candidate)) return { path: candidate, source: `xgboost package of ${venv}` };
    }
  }
  return { path: undefined, source: `no xgboost package in ${venv} (pip install xgboost-cpu)` };
}

/** Bound libraries by path; immutable once bound (koffi keeps the library loaded for the process). */
const bound = new Map<string, CApi>();

function bind(path: string): CApi {
  const cached = bound.get(path);
  if (cached) return cached;
  // Required lazily so the rest of the project works where koffi is not installed.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi') as Koffi;
  const lib = koffi.load(path);
  // Anonymous types only: a named koffi type registered twice (Jest reloads modules) throws.
  const handle = koffi.pointer(koffi.opaque());
  const outHandle = koffi.out(koffi.pointer(handle));
  const outPtr = koffi.out(koffi.pointer('void *'));
  const outU64 = koffi.out(koffi.pointer('uint64_t'));
  const fn = (name: string, args: unknown[]) => lib.func(name, 'int', args);
  const versionFn = lib.func('XGBoostVersion', 'void', [koffi.out(koffi.pointer('int')), koffi.out(koffi.pointer('int')), koffi.out(koffi.pointer('int'))]);
  const parts: [number][] = [[0], [0], [0]];
  versionFn(...parts);
  const version = parts.map(([v]) => v).join('.');
  if (parts[0]![0] < MIN_MAJOR_VERSION) throw new Error(`libxgboost ${version} is older than ${MIN_MAJOR_VERSION}.0`);
  const lastError = lib.func('XGBGetLastError', 'const char *', []);
  const api: CApi = {
    version,
    lastError: () => String(lastError()),
    createMatrix: fn('XGDMatrixCreateFromMat_omp', ['const float *', 'uint64_t', 'uint64_t', 'float', outHandle, 'int']) as CApi['createMatrix'],
    setFloatInfo: fn('XGDMatrixSetFloatInfo', [handle, 'const char *', 'const float *', 'uint64_t']) as CApi['setFloatInfo'],
    freeMatrix: fn('XGDMatrixFree', [handle]) as CApi['freeMatrix'],
    createBooster: fn('XGBoosterCreate', [koffi.pointer(handle), 'uint64_t', outHandle]) as CApi['createBooster'],
    setParam: fn('XGBoosterSetParam', [handle, 'const char *', 'const char *']) as CApi['setParam'],
    updateOneIter: fn('XGBoosterUpdateOneIter', [handle, 'int', handle]),
    predict: fn('XGBoosterPredictFromDMatrix', [handle, handle, 'const char *', outPtr, outU64, outPtr]) as CApi['predict'],
    save: fn('XGBoosterSaveModelToBuffer', [handle, 'const char *', outU64, outPtr]) as CApi['save'],
    load: fn('XGBoosterLoadModelFromBuffer', [handle, 'const void *', 'uint64_t']) as CApi['load'],
    freeBooster: fn('XGBoosterFree', [handle]) as CApi['freeBooster'],
    view: (ptr, length) => koffi.view(ptr, length),
    decodeU64: (ptr) => Number(koffi.decode(ptr, 'uint64_t')),
  };
  bound.set(path, api);
  return api;
}

/** XGBoost's message without the stack trace it appends. */
function messageOf(api: CApi): string {
  const text = api.lastError();
  const cut = text.indexOf('\nStack trace:');
  return (cut >= 0 ? text.slice(0, cut) : text).trim();
}

function check(api: CApi, name: string, rc: number): void {
  if (rc !== 0) throw new XGBoostEngineError(`${name} failed: ${messageOf(api)}`, name);
}

/**
 * A native handle and how to free it (once). It references neither its matrix/booster object nor
 * the session, so an unclosed session can become unreachable and the registry below frees it.
 */
class Resource {
  freed = false;
  constructor(
    readonly handle: Handle,
    private readonly release: (handle: Handle) => number,
  ) {}
  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.release(this.handle);
  }
}

/** Frees the handles of sessions that became unreachable without `close()` (e.g. a model nobody disposed). */
const orphans = new FinalizationRegistry<Set<Resource>>((live) => {
  for (const resource of [...live]) resource.free();
});

const PREDICT_CONFIG = (margin: boolean) => JSON.stringify({ type: margin ? 1 : 0, training: false, iteration_begin: 0, iteration_end: 0, strict_shape: false });

class NativeSession implements EngineSession {
  private closed = false;
  /** Async calls running on koffi's threads: handles are freed only after they return. */
  private running = 0;
  private closeWhenIdle = false;
  readonly live = new Set<Resource>();

  constructor(
    readonly api: CApi,
    readonly nthread: number,
  ) {
    orphans.register(this, this.live, this);
  }

  track(handle: Handle, release: (handle: Handle) => number): Resource {
    const resource = new Resource(handle, release);
    this.live.add(resource);
    return resource;
  }

  release(resource: Resource): void {
    this.live.delete(resource);
    resource.free();
  }

  ensureOpen(): void {
    if (this.closed || this.closeWhenIdle) throw new XGBoostEngineError('session is closed', 'closed');
  }

  createMatrix(input: MatrixInput): EngineMatrix {
    this.ensureOpen();
    const { features, numRows, numFeatures } = input;
    if (!Number.isSafeInteger(numRows) || numRows < 1 || !Number.isSafeInteger(numFeatures) || numFeatures < 1) {
      throw new RangeError(`a matrix needs at least one row and one column, got ${numRows}×${numFeatures}`);
    }
    if (features.length !== numRows * numFeatures) throw new RangeError(`expected ${numRows}×${numFeatures} values, got ${features.length}`);
    for (const [field, values] of [['label', input.labels], ['weight', input.weights]] as const) {
      if (values && values.length !== numRows) throw new RangeError(`${field}: expected ${numRows} values, got ${values.length}`);
    }
    const out: [Handle | null] = [null];
    check(this.api, 'XGDMatrixCreateFromMat', this.api.createMatrix(features, numRows, numFeatures, NaN, out, this.nthread));
    const matrix = new NativeMatrix(this, this.track(out[0]!, this.api.freeMatrix), numRows, numFeatures);
    try {
      if (input.labels) matrix.setInfo('label', input.labels);
      if (input.weights) matrix.setInfo('weight', input.weights);
    } catch (error) {
      matrix.free();
      throw error;
    }
    return matrix;
  }

  createBooster(cache: readonly EngineMatrix[], params: BoosterParams = {}): EngineBooster {
    this.ensureOpen();
    const handles = cache.map((matrix) => {
      if (!(matrix instanceof NativeMatrix) || matrix.session !== this) throw new TypeError('createBooster: a cache matrix belongs to another session');
      return matrix.live;
    });
    const out: [Handle | null] = [null];
    check(this.api, 'XGBoosterCreate', this.api.createBooster(handles, handles.length, out));
    const booster = new NativeBooster(this, this.track(out[0]!, this.api.freeBooster));
    try {
      booster.setParams({ nthread: this.nthread, ...params });
    } catch (error) {
      booster.free();
      throw error;
    }
    return booster;
  }

  loadBooster(model: Uint8Array): EngineBooster {
    const booster = this.createBooster([]) as NativeBooster;
    try {
      check(this.api, 'XGBoosterLoadModelFromBuffer', this.api.load(booster.live, model, model.length));
      // Loading replaces the parameters: set the thread count again.
      booster.setParams({ nthread: this.nthread });
    } catch (error) {
      booster.free();
      throw error;
    }
    return booster;
  }

  /** Runs `call` on a koffi worker thread; the session's handles stay alive until it returns. */
  async runAsync(name: string, start: (done: (error: unknown, rc: number) => void) => void): Promise<void> {
    this.ensureOpen();
    this.running++;
    try {
      const rc = await new Promise<number>((resolvePromise, reject) => start((error, rc) => (error ? reject(error) : resolvePromise(rc))));
      if (rc !== 0) {
        throw new XGBoostEngineError(`${name} failed on a worker thread (XGBoost's message is only readable on that thread; the same call on the main thread reports it)`, name);
      }
    } finally {
      this.running--;
      if (this.running === 0 && this.closeWhenIdle) this.freeAll();
    }
  }

  close(): void {
    if (this.closed || this.closeWhenIdle) return;
    if (this.running > 0) {
      // An async call still uses the handles: free them when it returns.
      this.closeWhenIdle = true;
      return;
    }
    this.freeAll();
  }

  private freeAll(): void {
    this.closed = true;
    this.closeWhenIdle = false;
    for (const resource of [...this.live]) resource.free();
    orphans.unregister(this);
  }
}

class NativeMatrix implements EngineMatrix {
  constructor(
    readonly session: NativeSession,
    private readonly resource: Resource,
    readonly numRows: number,
    readonly numFeatures: number,
  ) {}

  get live(): Handle {
    if (this.resource.freed) throw new XGBoostEngineError('matrix was freed', 'freed');
    return this.resource.handle;
  }

  setInfo(field: 'label' | 'weight', values: Float32Array): void {
    check(this.session.api, 'XGDMatrixSetFloatInfo', this.session.api.setFloatInfo(this.live, field, values, values.length));
  }

  free(): void {
    this.session.release(this.resource);
  }
}

class NativeBooster implements EngineBooster {
  constructor(
    private readonly session: NativeSession,
    private readonly resource: Resource,
  ) {}

  get live(): Handle {
    if (this.resource.freed) throw new XGBoostEngineError('booster was freed', 'freed');
    return this.resource.handle;
  }

  setParams(params: BoosterParams): void {
    const handle = this.live;
    for (const [rawKey, rawValue] of Object.entries(params)) {
      // `silent` (0.7x) is gone in XGBoost ≥ 1.0, which would warn on stderr about an unused parameter.
      const [key, value] = rawKey === 'silent' ? ['verbosity', Number(rawValue) ? 0 : 1] : [rawKey, rawValue];
      check(this.session.api, `XGBoosterSetParam(${key}=${String(value)})`, this.session.api.setParam(handle, key, String(value)));
    }
  }

  private trainHandle(train: EngineMatrix, call: string): Handle {
    if (!(train instanceof NativeMatrix) || train.session !== this.session) throw new TypeError(`${call}: the matrix belongs to another session or engine`);
    return train.live;
  }

  updateOneIter(iteration: number, train: EngineMatrix): void {
    const matrix = this.trainHandle(train, 'updateOneIter');
    check(this.session.api, 'XGBoosterUpdateOneIter', this.session.api.updateOneIter(this.live, iteration, matrix) as number);
  }

  /** `updateOneIter` on a koffi worker thread: the event loop keeps running during the round. */
  updateOneIterAsync(iteration: number, train: EngineMatrix): Promise<void> {
    const matrix = this.trainHandle(train, 'updateOneIter');
    const handle = this.live;
    return this.session.runAsync('XGBoosterUpdateOneIter', (done) => this.session.api.updateOneIter.async(handle, iteration, matrix, done));
  }

  predict(matrix: EngineMatrix, options: PredictOptions = {}): Float32Array {
    const data = this.trainHandle(matrix, 'predict');
    const { api } = this.session;
    const shape: [unknown] = [null];
    const dim: [number] = [0];
    const result: [unknown] = [null];
    check(api, 'XGBoosterPredictFromDMatrix', api.predict(this.live, data, PREDICT_CONFIG(options.outputMargin === true), shape, dim, result));
    const length = Number(dim[0]) === 1 ? api.decodeU64(shape[0]) : -1;
    if (length !== matrix.numRows) throw new XGBoostEngineError(`XGBoosterPredictFromDMatrix returned shape of dimension ${dim[0]} for ${matrix.numRows} rows`, 'XGBoosterPredictFromDMatrix');
    // The result buffer belongs to the booster and is overwritten by its next call: copy it out.
    return new Float32Array(api.view(result[0], 4 * length).slice(0));
  }

  save(): Uint8Array {
    const { api } = this.session;
    const length: [number | bigint] = [0];
    const out: [unknown] = [null];
    check(api, 'XGBoosterSaveModelToBuffer', api.save(this.live, JSON.stringify({ format: 'json' }), length, out));
    return new Uint8Array(api.view(out[0], Number(length[0])).slice(0));
  }

  free(): void {
    this.session.release(this.resource);
  }
}

/** The native engine plus what it can do beyond the common interface. */
export interface NativeEngine extends XGBoostEngine {
  /** libxgboost's version, e.g. `3.2.0`. */
  readonly version: string;
  readonly libraryPath: string;
}

/**
 * Binds libxgboost at `lookup`'s location (see {@link findNativeLibrary}).
 * @throws XGBoostEngineError (call `load`) when there is no library, koffi is missing, or the library is older than 2.0
 */
/**
 * libgomp's threads spin while they wait for work by default. When trainings share the cores (the
 * pipeline trains four models at once; CI runs tests in parallel), spinning threads steal the CPU
 * the working ones need: measured here, 284,807 rows × 200 rounds took 14–34 s with spinning and
 * 6.3 s with `OMP_WAIT_POLICY=passive` on the same loaded 2-core machine. libgomp reads the variable
 * once, when it loads, from the real process environment: set it (unless the user did) from the
 * main thread before the library or any training thread is loaded.
 */
export function preferPassiveOpenMpWait(): void {
  if (isMainThread) process.env.OMP_WAIT_POLICY ??= 'passive';
}

export function loadNativeEngine(lookup: NativeLibraryLookup = {}): NativeEngine {
  preferPassiveOpenMpWait();
  const location = findNativeLibrary(lookup);
  if (!location.path) throw new XGBoostEngineError(`libxgboost not found: ${location.source}`, 'load');
  const path = location.path;
  let api: CApi;
  try {
    api = bind(path);
  } catch (error) {
    throw new XGBoostEngineError(`cannot load libxgboost from ${path} (${location.source}): ${error instanceof Error ? error.message : String(error)}`, 'load', { cause: error });
  }
  const nthread = availableParallelism();
  return Object.freeze({
    name: `xgboost-native (libxgboost ${api.version})`,
    modelFormat: NATIVE_MODEL_FORMAT,
    supportsColsampleBynode: true,
    version: api.version,
    libraryPath: path,
    openSession: (): EngineSession => new NativeSession(api, nthread),
  });
}
