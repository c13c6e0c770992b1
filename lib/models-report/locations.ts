/**
 * Where things are: the names the project gives to registered models and runs, the files a logged
 * model directory must hold, and how an `mlflow-artifacts:` URI maps to a path on disk for the
 * local stack. Pure.
 */
import { isAbsolute, join } from 'node:path';
import type { AppConfig } from '../config';

/** The experiment trainingPipeline logs to by default. */
export const DEFAULT_EXPERIMENT = 'fraud_detection_training';

export { registeredModelName, modelRunName } from '../model-names';

/**
 * Files every logged `model/` directory must hold (lib/packaging/mlflow-model.ts writes them):
 * without MLmodel nothing loads it, without model.onnx Python cannot, without model.json we cannot,
 * the env files are what `mlflow models serve` and pyfunc's env restore read.
 */
export const REQUIRED_MODEL_FILES = ['MLmodel', 'model.onnx', 'model.json', 'requirements.txt', 'python_env.yaml', 'conda.yaml', 'input_example.json'] as const;

/** Registry version tags worth showing: lineage, the gate, and what deployments did to it. */
export const REPORTED_VERSION_TAGS = [
  'workflow_id',
  'dataset_digest',
  'gate',
  'deployed_by',
  'promoted_by',
  'canary_rollback_reason',
  'canary_rejected_reason',
] as const;

/** Run metrics worth showing (logged by activities/mlflow-logging.ts). */
export const REPORTED_RUN_METRICS = ['test_pr_auc', 'test_recall', 'test_precision', 'test_roc_auc', 'threshold'] as const;

/** Registry aliases the pipelines set; `champion` is compared with the store. */
export const CHAMPION_ALIAS = 'champion';

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.');
}

/**
 * Where the local stack's MLflow server keeps artifacts (`--artifacts-destination` of
 * lib/stack/services.ts): `<DATA_DIR>/mlflow/artifacts`, when the tracking URI is a loopback
 * http address; null for any other server, whose disk we cannot see.
 */
export function localArtifactRoot(cfg: Pick<AppConfig, 'mlflowTrackingUri' | 'dataDir'>): string | null {
  let url: URL;
  try {
    url = new URL(cfg.mlflowTrackingUri);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' || !isLoopbackHost(url.hostname)) return null;
  return join(cfg.dataDir, 'mlflow', 'artifacts');
}

/**
 * The path on disk of an `mlflow-artifacts:` URI under `root` (see {@link localArtifactRoot}),
 * or null when there is no root, the URI is of another kind, names another host, or climbs out.
 */
export function artifactPathOnDisk(uri: string, root: string | null): string | null {
  if (root === null || !isAbsolute(root) || !uri.startsWith('mlflow-artifacts:')) return null;
  let rest = uri.slice('mlflow-artifacts:'.length).replace(/[?#].*$/, '');
  if (rest.startsWith('//')) {
    const host = rest.slice(2).split('/')[0] ?? '';
    // A URI with its own host is served by that host; only a loopback one can be ours.
    if (host !== '' && !isLoopbackHost(host.replace(/:\d+$/, ''))) return null;
    rest = rest.slice(2 + host.length);
  }
  const parts = rest.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  if (parts.some((p) => p === '..' || p === '.' || p.includes('/') || p.includes('\\'))) return null;
  return join(root, ...parts);
}
