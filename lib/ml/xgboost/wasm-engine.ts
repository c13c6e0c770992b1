/**
 * The XGBoost engine on the WebAssembly build shipped by `ml-xgboost@1.1.2` (XGBoost of early
 * 2018, a 0.7x release, built with Emscripten 1.37).
 *
 * Why not the package's JS wrapper: it passes inputs through the wasm stack (crashes above a few
 * MB), trains all rounds in one call (no progress, no cancellation), predicts one row at a time,
 * treats the value -1 as missing, and has no sample weights. Its C shim only exports
 * `create_model`, `train_full_model`, `predict_one`, … — but the XGBoost C API functions those
 * shims call are compiled into the same binary. So this engine:
 *
 * 1. checks the binary is exactly the one of `ml-xgboost@1.1.2` (SHA-256), because
 * 2. it re-exports the C API functions by their function index (read off the shim's calls, see
 *    {@link C_API_FUNCTIONS}) by appending entries to the module's export section, in memory;
 * 3. it runs the package's Emscripten glue once per session in a fresh scope with a sync
 *    `instantiateWasm` hook, so every session is its own WebAssembly instance with its own heap
 *    (growable to 2 GB). Closing a session drops the instance and the heap with it; nothing is
 *    shared between sessions, which is what makes concurrent trainings and worker threads safe.
 *
 * Then everything goes through heap buffers: matrices are copied in once (`NaN` = missing),
 * boosting is one `XGBoosterUpdateOneIter` per round, predictions are one `XGBoosterPredict` per
 * batch. The build has C++ exception catching disabled: an XGBoost error (`LOG(FATAL)`) unwinds
 * straight out of wasm, leaving that instance's stack in an unknown state, so the session is
 * marked broken and every later call on it throws; the error message is read back from the
 * exception object.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BoosterParams, EngineBooster, EngineMatrix, EngineSession, MatrixInput, PredictOptions, XGBoostEngine } from './engine';
import { XGBoostEngineError } from './errors';

/** SHA-256 of `ml-xgboost@1.1.2/dist/wasm/xgboost.wasm`: the function indices below are only valid for this binary. */
const WASM_SHA256 = '76f1511879cc511bac60595187e28bad8673fb013546ffffb92615e6e79fef52';

/**
 * Function indices of XGBoost C API functions in that binary, identified from the shim's calls
 * (`create_model` calls XGDMatrixCreateFromMat, XGDMatrixSetFloatInfo, XGBoosterCreate in that
 * order, `train_full_model` calls XGBoosterUpdateOneIter, …) and checked against their wasm
 * signatures, e.g. XGDMatrixCreateFromMat is `(i32 data, i64 nrow, i64 ncol, f32 missing, i32 out) -> i32`.
 */
const C_API_FUNCTIONS = {
  xgDMatrixCreateFromMat: 1447,
  xgDMatrixFree: 1448,
  xgDMatrixSetFloatInfo: 1449,
  xgBoosterCreate: 1450,
  xgBoosterFree: 1452,
  xgBoosterSetParam: 1453,
  xgBoosterUpdateOneIter: 1456,
  xgBoosterPredict: 1458,
} as const;

/** The C API as callable from JS (`bst_ulong` arguments are wasm i64, hence `bigint`). */
interface CApi {
  xgDMatrixCreateFromMat(data: number, nrow: bigint, ncol: bigint, missing: number, out: number): number;
  xgDMatrixFree(handle: number): number;
  xgDMatrixSetFloatInfo(handle: number, field: number, info: number, len: bigint): number;
  xgBoosterCreate(dmats: number, len: bigint, out: number): number;
  xgBoosterFree(handle: number): number;
  xgBoosterSetParam(handle: number, name: number, value: number): number;
  xgBoosterUpdateOneIter(handle: number, iteration: number, dtrain: number): number;
  xgBoosterPredict(handle: number, dmat: number, optionMask: number, ntreeLimit: number, outLen: number, outResult: number): number;
}

/** What this engine uses of the Emscripten `Module` object. */
interface EmscriptenModule {
  HEAPU8: Uint8Array;
  HEAP32: Int32Array;
  HEAPU32: Uint32Array;
  HEAPF32: Float32Array;
  asm: CApi;
  calledRun?: boolean;
  _malloc(size: number): number;
  _free(ptr: number): void;
  /** Shim: saves the booster of a `(Booster*, DMatrix*)` pair to `model.txt` in the in-memory FS; returns its size or -1. */
  _save_model(pair: number): number;
  /** Shim: copies `size` bytes of `model.txt` to `ptr`. */
  _get_file_content(ptr: number, size: number): void;
  /** Shim: writes the bytes to `model.txt`, loads a booster from it; returns a `(Booster*, null)` pair or 0. */
  _load_model(ptr: number, size: number): number;
  FS_unlink?(path: string): void;
}

/** The few WebAssembly JS API members used here (the project's `lib` has no DOM/WebAssembly typings). */
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => WasmInstance;
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

type GlueFactory = (module: object, exports: object, req: NodeJS.Require, dirname: string, filename: string, process: object) => void;

interface Runtime {
  glue: GlueFactory;
  wasm: object;
  glueFile: string;
}

/** Compiled once per thread on first use; immutable afterwards (sessions never share an instance). */
let runtime: Runtime | undefined;

function loadRuntime(): Runtime {
  const dir = join(dirname(require.resolve('ml-xgboost/package.json')), 'dist', 'wasm');
  const bytes = readFileSync(join(dir, 'xgboost.wasm'));
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== WASM_SHA256) {
    throw new XGBoostEngineError(
      `ml-xgboost's xgboost.wasm is not the 1.1.2 build this engine was written for (sha256 ${digest}); pin ml-xgboost to 1.1.2`,
      'load',
    );
  }
  const glueFile = join(dir, 'xgboost.js');
  // The glue is a plain script assigning to `module.exports`; a Function gives each call its own scope.
  const glue = new Function('module', 'exports', 'require', '__dirname', '__filename', 'process', readFileSync(glueFile, 'utf8')) as GlueFactory;
  return { glue, wasm: new WebAssemblyApi.Module(withExtraExports(bytes, C_API_FUNCTIONS)), glueFile };
}

function readLeb128(bytes: Uint8Array, start: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  let pos = start;
  for (;;) {
    const byte = bytes[pos++]!;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return [value, pos];
  }
}

function leb128(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    out.push(byte);
  } while (rest > 0);
  return out;
}

/** A copy of a wasm binary whose export section also exports the given function indices under the given names. */
export function withExtraExports(bytes: Uint8Array, functions: Readonly<Record<string, number>>): Uint8Array {
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  let pos = 8;
  let patched = false;
  while (pos < bytes.length) {
    const id = bytes[pos]!;
    const [size, payloadStart] = readLeb128(bytes, pos + 1);
    const end = payloadStart + size;
    if (id === 7) {
      const [count, entriesStart] = readLeb128(bytes, payloadStart);
      const added: number[] = [];
      for (const [name, index] of Object.entries(functions)) {
        const nameBytes = new TextEncoder().encode(name);
        added.push(...leb128(nameBytes.length), ...nameBytes, 0 /* function */, ...leb128(index));
      }
      const body = [...leb128(count + Object.keys(functions).length), ...bytes.subarray(entriesStart, end), ...added];
      parts.push(Uint8Array.from([7, ...leb128(body.length), ...body]));
      patched = true;
    } else {
      parts.push(bytes.subarray(pos, end));
    }
    pos = end;
  }
  if (!patched) throw new XGBoostEngineError('xgboost.wasm has no export section', 'load');
  return Buffer.concat(parts);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Lines XGBoost printed, kept for error messages. */
const LOG_LINES = 20;
/** Matrices are copied in batches of this many rows for prediction, so the heap stays small whatever the input size. */
export const PREDICT_BATCH_ROWS = 65_536;

class WasmSession implements EngineSession {
  private module: EmscriptenModule | undefined;
  private broken: XGBoostEngineError | undefined;
  private readonly log: string[] = [];
  private readonly live = new Set<{ free(): void }>();

  constructor(rt: Runtime) {
    const log = (line: unknown) => {
      this.log.push(String(line));
      if (this.log.length > LOG_LINES) this.log.shift();
    };
    let module: EmscriptenModule | undefined;
    const overrides = {
      print: log,
      printErr: log,
      noInitialRun: true,
      instantiateWasm(imports: object, receive: (instance: WasmInstance) => void) {
        const instance = new WebAssemblyApi.Instance(rt.wasm, imports);
        receive(instance);
        return instance.exports;
      },
    };
    // The glue starts with `var Module = module.exports = {}`: the setter hands it our overrides
    // before it reads any of them.
    const holder = {};
    Object.defineProperty(holder, 'exports', {
      get: () => module,
      set: (value: EmscriptenModule) => {
        module = Object.assign(value, overrides);
      },
    });
    // A stand-in `process`: the real one would get an `uncaughtException` listener per session.
    const fakeProcess = {
      argv: ['node', 'xgboost-wasm'],
      platform: process.platform,
      hrtime: process.hrtime.bind(process),
      on: () => undefined,
      exit: (code: number) => {
        throw new XGBoostEngineError(`xgboost wasm runtime called exit(${code})`, 'exit');
      },
    };
    rt.glue(holder, {}, require, dirname(rt.glueFile), rt.glueFile, fakeProcess);
    if (!module?.calledRun || typeof module.asm?.xgBoosterPredict !== 'function') {
      throw new XGBoostEngineError('the xgboost wasm runtime did not initialise synchronously', 'load');
    }
    this.module = module;
  }

  /** The module, or a throw when the session is closed or broken. */
  get m(): EmscriptenModule {
    if (this.broken) throw new XGBoostEngineError(`session unusable after an earlier XGBoost failure: ${this.broken.message}`, this.broken.call);
    if (!this.module) throw new XGBoostEngineError('session is closed', 'closed');
    return this.module;
  }

  /** Runs one C API call; a non-zero return or an escaped C++ exception becomes an XGBoostEngineError. */
  call(name: string, fn: (api: CApi) => number): void {
    const m = this.m;
    let rc: number;
    try {
      rc = fn(m.asm);
    } catch (error) {
      const failure = new XGBoostEngineError(`${name} failed: ${this.describeThrown(error)}`, name, { cause: error });
      this.broken = failure;
      throw failure;
    }
    if (rc !== 0) throw new XGBoostEngineError(`${name} returned ${rc}${this.logTail()}`, name);
  }

  /** Emscripten throws `"<ptr> - Exception catching is disabled…"`; `ptr` is the std::exception, whose message pointer follows its vtable. */
  private describeThrown(error: unknown): string {
    const text = error instanceof Error ? error.message : String(error);
    const match = /^(\d+) - Exception catching is disabled/.exec(text);
    if (match && this.module) {
      const heap = this.module.HEAPU8;
      const ptr = Number(match[1]);
      if (ptr > 0 && ptr + 8 <= heap.length) {
        const messagePtr = this.module.HEAP32[(ptr + 4) >> 2]!;
        if (messagePtr > 0 && messagePtr < heap.length) {
          let end = messagePtr;
          while (end < heap.length && end - messagePtr < 2000 && heap[end] !== 0) end++;
          return decoder.decode(heap.subarray(messagePtr, end)) + this.logTail();
        }
      }
    }
    return text + this.logTail();
  }

  private logTail(): string {
    return this.log.length > 0 ? ` (xgboost log: ${this.log.slice(-3).join(' | ')})` : '';
  }

  malloc(size: number): number {
    const ptr = this.m._malloc(Math.max(size, 1));
    if (ptr === 0) throw new XGBoostEngineError(`could not allocate ${size} bytes on the wasm heap`, 'malloc');
    return ptr;
  }

  free(ptr: number): void {
    if (this.module && !this.broken && ptr !== 0) this.module._free(ptr);
  }

  cString(text: string): number {
    const bytes = encoder.encode(text);
    const ptr = this.malloc(bytes.length + 1);
    this.m.HEAPU8.set(bytes, ptr);
    this.m.HEAPU8[ptr + bytes.length] = 0;
    return ptr;
  }

  /** Copies a float array into a fresh heap buffer; the caller frees it. */
  floats(values: Float32Array): number {
    const ptr = this.malloc(values.byteLength);
    this.m.HEAPF32.set(values, ptr >> 2);
    return ptr;
  }

  track<T extends { free(): void }>(resource: T): T {
    this.live.add(resource);
    return resource;
  }

  untrack(resource: { free(): void }): void {
    this.live.delete(resource);
  }

  createMatrix(input: MatrixInput): EngineMatrix {
    const { features, numRows, numFeatures } = input;
    if (!Number.isSafeInteger(numRows) || numRows < 1 || !Number.isSafeInteger(numFeatures) || numFeatures < 1) {
      throw new RangeError(`a matrix needs at least one row and one column, got ${numRows}×${numFeatures}`);
    }
    if (features.length !== numRows * numFeatures) throw new RangeError(`expected ${numRows}×${numFeatures} values, got ${features.length}`);
    const out = this.malloc(4);
    const data = this.floats(features);
    let handle: number;
    try {
      this.call('XGDMatrixCreateFromMat', (api) => api.xgDMatrixCreateFromMat(data, BigInt(numRows), BigInt(numFeatures), NaN, out));
      handle = this.m.HEAP32[out >> 2]!;
    } finally {
      this.free(data);
      this.free(out);
    }
    const matrix = this.track(new WasmMatrix(this, handle, numRows, numFeatures));
    if (input.labels) matrix.setInfo('label', input.labels);
    if (input.weights) matrix.setInfo('weight', input.weights);
    return matrix;
  }

  createBooster(cache: readonly EngineMatrix[], params: BoosterParams = {}): EngineBooster {
    const handles = cache.map((matrix) => {
      if (!(matrix instanceof WasmMatrix) || matrix.session !== this) throw new TypeError('createBooster: a cache matrix belongs to another session');
      return matrix.handle;
    });
    const array = this.malloc(4 * handles.length + 4);
    let handle: number;
    try {
      this.m.HEAP32.set(handles, array >> 2);
      const out = array + 4 * handles.length;
      this.call('XGBoosterCreate', (api) => api.xgBoosterCreate(array, BigInt(handles.length), out));
      handle = this.m.HEAP32[out >> 2]!;
    } finally {
      this.free(array);
    }
    const booster = this.track(new WasmBooster(this, handle));
    booster.setParams(params);
    return booster;
  }

  loadBooster(model: Uint8Array): EngineBooster {
    const m = this.m;
    const data = this.malloc(model.length);
    let pair = 0;
    try {
      m.HEAPU8.set(model, data);
      this.call('XGBoosterLoadModel', () => {
        pair = m._load_model(data, model.length);
        return pair === 0 ? -1 : 0;
      });
    } finally {
      this.free(data);
      this.unlinkModelFile();
    }
    // The shim returns `new pair(new BoosterHandle, nullptr)`: keep the handle, free both cells.
    const cell = m.HEAP32[pair >> 2]!;
    const handle = m.HEAP32[cell >> 2]!;
    this.free(cell);
    this.free(pair);
    return this.track(new WasmBooster(this, handle));
  }

  /** The shims save and load through `model.txt` in the in-memory FS; drop it so the heap does not keep a copy. */
  unlinkModelFile(): void {
    try {
      this.module?.FS_unlink?.('/model.txt');
    } catch {
      // Not there: nothing to drop.
    }
  }

  close(): void {
    if (!this.module) return;
    if (!this.broken) for (const resource of [...this.live]) resource.free();
    this.live.clear();
    // Dropping the last reference to the Module drops the instance and its heap.
    this.module = undefined;
  }
}

class WasmMatrix implements EngineMatrix {
  private freed = false;
  constructor(
    readonly session: WasmSession,
    readonly handle: number,
    readonly numRows: number,
    readonly numFeatures: number,
  ) {}

  setInfo(field: 'label' | 'weight', values: Float32Array): void {
    if (values.length !== this.numRows) throw new RangeError(`${field}: expected ${this.numRows} values, got ${values.length}`);
    const name = this.session.cString(field);
    const data = this.session.floats(values);
    try {
      this.session.call('XGDMatrixSetFloatInfo', (api) => api.xgDMatrixSetFloatInfo(this.handle, name, data, BigInt(values.length)));
    } finally {
      this.session.free(data);
      this.session.free(name);
    }
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.session.untrack(this);
    try {
      this.session.call('XGDMatrixFree', (api) => api.xgDMatrixFree(this.handle));
    } catch {
      // A closed or broken session has nothing left to free.
    }
  }
}

class WasmBooster implements EngineBooster {
  private freed = false;
  constructor(
    private readonly session: WasmSession,
    private readonly handle: number,
  ) {}

  private get live(): number {
    if (this.freed) throw new XGBoostEngineError('booster was freed', 'freed');
    return this.handle;
  }

  setParams(params: BoosterParams): void {
    const handle = this.live;
    for (const [key, value] of Object.entries(params)) {
      const name = this.session.cString(key);
      const text = this.session.cString(String(value));
      try {
        this.session.call(`XGBoosterSetParam(${key}=${String(value)})`, (api) => api.xgBoosterSetParam(handle, name, text));
      } finally {
        this.session.free(text);
        this.session.free(name);
      }
    }
  }

  updateOneIter(iteration: number, train: EngineMatrix): void {
    const handle = this.live;
    if (!(train instanceof WasmMatrix)) throw new TypeError('updateOneIter: the matrix belongs to another engine');
    this.session.call('XGBoosterUpdateOneIter', (api) => api.xgBoosterUpdateOneIter(handle, iteration, train.handle));
  }

  predict(matrix: EngineMatrix, options: PredictOptions = {}): Float32Array {
    const handle = this.live;
    if (!(matrix instanceof WasmMatrix)) throw new TypeError('predict: the matrix belongs to another engine');
    const out = this.session.malloc(16);
    try {
      // out: u64 length at +0, float* result at +8 (owned by the booster, valid until its next call).
      this.session.call('XGBoosterPredict', (api) => api.xgBoosterPredict(handle, matrix.handle, options.outputMargin ? 1 : 0, 0, out, out + 8));
      const m = this.session.m;
      const length = m.HEAPU32[out >> 2]!;
      const result = m.HEAP32[(out + 8) >> 2]! >> 2;
      if (length !== matrix.numRows) throw new XGBoostEngineError(`XGBoosterPredict returned ${length} values for ${matrix.numRows} rows`, 'XGBoosterPredict');
      return m.HEAPF32.slice(result, result + length);
    } finally {
      this.session.free(out);
    }
  }

  save(): Uint8Array {
    const handle = this.live;
    const session = this.session;
    // The shim takes a `(BoosterHandle*, DMatrixHandle*)` pair: build one around our handle.
    const block = session.malloc(12);
    let size = -1;
    try {
      const m = session.m;
      m.HEAP32[block >> 2] = block + 8;
      m.HEAP32[(block + 4) >> 2] = 0;
      m.HEAP32[(block + 8) >> 2] = handle;
      session.call('XGBoosterSaveModel', () => {
        size = m._save_model(block);
        return size < 0 ? -1 : 0;
      });
      const data = session.malloc(size);
      try {
        m._get_file_content(data, size);
        return m.HEAPU8.slice(data, data + size);
      } finally {
        session.free(data);
      }
    } finally {
      session.free(block);
      session.unlinkModelFile();
    }
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.session.untrack(this);
    try {
      this.session.call('XGBoosterFree', (api) => api.xgBoosterFree(this.handle));
    } catch {
      // A closed or broken session has nothing left to free.
    }
  }
}

/** Name of the byte format of this build's models: XGBoost's legacy binary model of the 0.7x releases. */
export const WASM_MODEL_FORMAT = 'xgboost-0.7-binary';

/** The wasm engine. Stateless: each `openSession()` is a new WebAssembly instance. */
export const wasmEngine: XGBoostEngine = Object.freeze({
  name: 'xgboost-wasm (ml-xgboost 1.1.2)',
  modelFormat: WASM_MODEL_FORMAT,
  openSession(): EngineSession {
    runtime ??= loadRuntime();
    return new WasmSession(runtime);
  },
});
