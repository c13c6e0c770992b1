/**
 * Which TensorFlow.js backend the neural network runs on, chosen once per thread:
 *
 * 1. `@tensorflow/tfjs-node` (native libtensorflow, backend `tensorflow`) when it is installed. It is
 *    an optional dependency: its install downloads libtensorflow, which fails offline.
 * 2. Otherwise `@tensorflow/tfjs` with `@tensorflow/tfjs-backend-wasm` (XNNPACK, with SIMD when the
 *    runtime validates it; Node 20 does). About 5x faster than the plain JavaScript `cpu` backend
 *    for our MLP. The threaded wasm variant is not available: tfjs reports no multithreading in
 *    Node (tfjs issue 3830), and forcing it fails to initialise.
 * 3. The `cpu` backend if the wasm binary cannot be initialised.
 *
 * The environment variable `TFJS_BACKEND` (`tensorflow`, `wasm` or `cpu`) forces one, e.g. to
 * compare speeds; an unavailable forced backend is an error rather than a silent fallback.
 *
 * TensorFlow.js keeps its engine in module state, so the choice is per thread (each worker
 * thread has its own engine and initialises its own backend). Nothing here is per training:
 * models keep no tensors between calls, so trainings and predictions never share tensors.
 * Library code prints nothing: tfjs' own warnings (the "Hi there, use tfjs-node" banner of the
 * cpu backend, failed-backend notices) are switched off with its `PROD` flag.
 */
import * as path from 'node:path';

import type * as TfModule from '@tensorflow/tfjs';

/** The TensorFlow.js API (the same whether it came from tfjs or tfjs-node). */
export type Tf = typeof TfModule;

export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';

/** What {@link tfBackendInfo} reports, e.g. to log as MLflow params. */
export interface TfBackendInfo {
  backend: TfBackendName;
  /** The npm package that provides the backend. */
  package: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-backend-wasm' | '@tensorflow/tfjs-backend-cpu';
  /** Version of `@tensorflow/tfjs-core` in use. */
  version: string;
  /** Wasm only: whether the SIMD build of the binary runs. */
  simd?: boolean;
}

/** Thrown by {@link loadTf} when `TFJS_BACKEND` names a backend that cannot be initialised here. */
export class TfBackendUnavailableError extends Error {
  override readonly name = 'TfBackendUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

interface LoadedTf {
  tf: Tf;
  info: TfBackendInfo;
}

const TFJS_NODE = '@tensorflow/tfjs-node';

// One initialisation per thread (module state is per thread in Node): the promise is cached so
// concurrent first callers share it.
let loading: Promise<LoadedTf> | undefined;
let loaded: LoadedTf | undefined;

function isResolvable(specifier: string): boolean {
  try {
    require.resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

function forcedBackend(): TfBackendName | undefined {
  const value = process.env.TFJS_BACKEND?.trim();
  if (value === undefined || value === '') return undefined;
  if (value === 'tensorflow' || value === 'wasm' || value === 'cpu') return value;
  throw new TfBackendUnavailableError(`TFJS_BACKEND must be tensorflow, wasm or cpu, got ${JSON.stringify(value)}`);
}

function quiet(tf: Tf): void {
  // PROD only silences tfjs' console warnings (its other effect, skipping debug checks, is off anyway).
  tf.env().set('PROD', true);
}

async function loadNode(): Promise<LoadedTf> {
  // libtensorflow logs CPU-feature notices to stderr unless told otherwise; it reads this at load.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  const specifier: string = TFJS_NODE; // a variable: the package is optional, so not type-checked
  const tf = (await import(specifier)) as Tf;
  quiet(tf);
  if (!(await tf.setBackend('tensorflow'))) throw new TfBackendUnavailableError(`${TFJS_NODE} loaded but its backend did not initialise`);
  await tf.ready();
  return { tf, info: { backend: 'tensorflow', package: TFJS_NODE, version: tf.version_core } };
}

async function loadWasmOrCpu(want: 'wasm' | 'cpu' | undefined): Promise<LoadedTf> {
  const tf: Tf = await import('@tensorflow/tfjs');
  quiet(tf);
  if (want !== 'cpu') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    try {
      // The .wasm binaries sit next to the package's Node entry point (dist/); a file path works in Node.
      wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
    } catch {
      // Already initialised by other code in this thread: its paths were good enough.
    }
    if (await tf.setBackend('wasm')) {
      await tf.ready();
      const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
      return { tf, info: { backend: 'wasm', package: '@tensorflow/tfjs-backend-wasm', version: tf.version_core, simd } };
    }
    if (want === 'wasm') throw new TfBackendUnavailableError('TFJS_BACKEND=wasm but the wasm backend failed to initialise');
  }
  if (!(await tf.setBackend('cpu'))) throw new TfBackendUnavailableError('the cpu backend of TensorFlow.js failed to initialise');
  await tf.ready();
  return { tf, info: { backend: 'cpu', package: '@tensorflow/tfjs-backend-cpu', version: tf.version_core } };
}

async function initialise(): Promise<LoadedTf> {
  const want = forcedBackend();
  if (want === 'tensorflow' || (want === undefined && isResolvable(TFJS_NODE))) {
    try {
      return await loadNode();
    } catch (error) {
      if (want === 'tensorflow') {
        throw error instanceof TfBackendUnavailableError ? error : new TfBackendUnavailableError(`${TFJS_NODE} cannot be loaded`, { cause: error });
      }
      // Installed but broken (e.g. a libtensorflow that does not match the platform): fall through.
    }
  }
  return loadWasmOrCpu(want);
}

/**
 * The TensorFlow.js API with its backend initialised (see the module comment for the choice).
 * The first call in a thread takes a few hundred milliseconds; later calls return at once.
 */
export async function loadTf(): Promise<Tf> {
  if (loaded) return loaded.tf;
  loading ??= initialise().then(
    (result) => (loaded = result),
    (error: unknown) => {
      loading = undefined; // let a later call retry
      throw error;
    },
  );
  return (await loading).tf;
}

/** The backend the neural network uses in this thread (initialising it if needed). */
export async function tfBackendInfo(): Promise<TfBackendInfo> {
  await loadTf();
  return { ...loaded!.info };
}
