/**
 * One model's training and evaluation as a job that runs in a worker thread, so the caller's event
 * loop (an activity's heartbeats, cancellation, the other models' activities) keeps flowing while
 * the CPU works. This file is both sides: {@link runTrainingJob} on the caller's thread, and the
 * thread's entry point when loaded as a worker.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isMainThread, parentPort, threadId, Worker, workerData } from 'node:worker_threads';
import { readSplit } from '../datasets/store';
import { DatasetError } from './data/errors';
import { InvalidHyperparameterError, ModelFormatError, TrainingCancelledError } from './errors';
import { chooseThreshold, evaluate, precisionRecallCurve, rocCurve, type Evaluation } from './metrics';
import { trainModel } from './models';
import { preferPassiveOpenMpWait } from './xgboost/native-engine';
import type { FraudModel, ModelKind, TrainProgress } from './types';

export interface TrainingJob {
  kind: ModelKind;
  /** Directory of a split written by `writeSplit`. */
  datasetDir: string;
  hyperparameters: Record<string, unknown>;
  /** @default 42 */
  seed?: number;
  /** Where the model's JSON is written (atomically: a crash never leaves half a file). */
  outFile: string;
}

export interface TrainingJobResult {
  kind: ModelKind;
  outFile: string;
  backend: string;
  trainingSeconds: number;
  /** Chosen on the validation split (max F1); the test metrics are at this threshold. */
  threshold: number;
  test: Evaluation;
  validationPrAuc: number;
  /** Downsampled curves of the test split, for plots. */
  curves: { roc: { fpr: number[]; tpr: number[] }; precisionRecall: { recall: number[]; precision: number[] } };
  /** Every hyperparameter as the model resolved it (defaults filled in), for the record. */
  hyperparameters: Record<string, unknown>;
  /** Ranked, for tree models; `undefined` where the model has none. */
  featureImportance?: { feature: string; importance: number }[];
}

type FromWorker =
  | { type: 'progress'; progress: TrainProgress }
  | { type: 'done'; result: TrainingJobResult }
  | { type: 'error'; name: string; message: string; code?: string; stack?: string };

/** Errors cross the thread boundary as plain data; these are rebuilt with their class so callers can classify them. */
function reviveError(e: Extract<FromWorker, { type: 'error' }>, kind: ModelKind): Error {
  let err: Error;
  switch (e.name) {
    case 'TrainingCancelledError':
      err = new TrainingCancelledError(kind);
      break;
    case 'InvalidHyperparameterError':
      err = new InvalidHyperparameterError(e.message);
      break;
    case 'ModelFormatError':
      err = new ModelFormatError(e.message);
      break;
    case 'DatasetError':
      err = new DatasetError((e.code ?? 'MALFORMED') as ConstructorParameters<typeof DatasetError>[0], e.message);
      break;
    default:
      err = new Error(e.message);
      err.name = e.name;
  }
  if (e.stack) err.stack = e.stack;
  return err;
}

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
  /** After an abort, how long training may take to stop by itself before the thread is terminated. @default 5000 */
  graceMs?: number;
}

/**
 * Runs a job in a new worker thread. Aborting the signal asks training to stop at its next
 * round/tree/epoch and rejects with `TrainingCancelledError`; a thread that does not stop within
 * `graceMs` is terminated.
 */
export function runTrainingJob(job: TrainingJob, opts: RunOptions = {}): Promise<TrainingJobResult> {
  // Running from TypeScript sources (tsx, Jest): the thread needs the same loader.
  const execArgv = __filename.endsWith('.ts') ? ['--require', 'tsx/cjs'] : [];
  // Must reach libgomp's environment before the thread loads libxgboost (worker threads get a copy of process.env).
  preferPassiveOpenMpWait();
  const worker = new Worker(__filename, { workerData: job, execArgv });
  return new Promise<TrainingJobResult>((resolve, reject) => {
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      // The thread listens for an abort message, which would keep it alive after its work is done.
      void worker.terminate();
      fn();
    };
    const onAbort = () => {
      worker.postMessage({ type: 'abort' });
      killTimer = setTimeout(() => {
        void worker.terminate();
        finish(() => reject(new TrainingCancelledError(job.kind)));
      }, opts.graceMs ?? 5000);
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'progress') opts.onProgress?.(m.progress);
      else if (m.type === 'done') finish(() => resolve(m.result));
      else finish(() => reject(reviveError(m, job.kind)));
    });
    worker.on('error', (err) => finish(() => reject(err)));
    worker.on('exit', (code) => finish(() => reject(new Error(`training thread for ${job.kind} exited with code ${code} before it finished`))));
  });
}

function importanceOf(model: FraudModel): TrainingJobResult['featureImportance'] {
  const m = model as FraudModel & { featureImportance?: () => { feature: string; importance: number }[] };
  return typeof m.featureImportance === 'function' ? m.featureImportance() : undefined;
}

/** The thread side: train, evaluate, write the model, report. */
async function work(job: TrainingJob): Promise<TrainingJobResult> {
  const controller = new AbortController();
  parentPort!.on('message', (m: { type: string }) => {
    if (m.type === 'abort') controller.abort();
  });
  const split = await readSplit({ dir: job.datasetDir });
  const started = performance.now();
  const { model, backend } = await trainModel(job.kind, split, job.hyperparameters, {
    seed: job.seed ?? 42,
    signal: controller.signal,
    onProgress: (progress) => parentPort!.postMessage({ type: 'progress', progress } satisfies FromWorker),
  });
  const trainingSeconds = (performance.now() - started) / 1000;

  const validationScores = model.predictProba(split.validation.features, split.validation.numRows);
  const threshold = chooseThreshold(split.validation.labels, validationScores);
  const testScores = model.predictProba(split.test.features, split.test.numRows);
  const test = evaluate(split.test.labels, testScores, threshold);
  const roc = rocCurve(split.test.labels, testScores);
  const pr = precisionRecallCurve(split.test.labels, testScores);

  await mkdir(dirname(job.outFile), { recursive: true });
  const scratch = `${job.outFile}.tmp-${process.pid}-${threadId}`;
  const saved = model.toJSON() as { options?: Record<string, unknown>; training?: { options?: Record<string, unknown>; seed?: number } };
  await writeFile(scratch, JSON.stringify(saved));
  await rename(scratch, job.outFile);
  if (existsSync(scratch)) await rm(scratch, { force: true });

  return {
    kind: job.kind,
    outFile: job.outFile,
    backend,
    trainingSeconds,
    threshold,
    test,
    validationPrAuc: evaluate(split.validation.labels, validationScores, threshold).prAuc,
    curves: { roc: { fpr: roc.fpr, tpr: roc.tpr }, precisionRecall: { recall: pr.recall, precision: pr.precision } },
    hyperparameters: { ...(saved.options ?? saved.training?.options ?? job.hyperparameters), seed: job.seed ?? 42 },
    featureImportance: importanceOf(model),
  };
}

if (!isMainThread && (workerData as TrainingJob | undefined)?.outFile) {
  work(workerData as TrainingJob).then(
    (result) => parentPort!.postMessage({ type: 'done', result } satisfies FromWorker),
    (err: Error & { code?: string }) =>
      parentPort!.postMessage({ type: 'error', name: err.name, message: err.message, code: err.code, stack: err.stack } satisfies FromWorker),
  );
}
