/** What the report looks at and how hard it tries, with defaults; and the `npm run models` command line. */
import { parseArgs } from 'node:util';
import { MODEL_KINDS, type ModelKind } from '../ml/types';
import { ModelsCliUsageError } from './errors';
import { DEFAULT_EXPERIMENT } from './locations';

export interface ModelsReportOptions {
  /** The MLflow experiment whose `register_<kind>` runs are listed. @default 'fraud_detection_training' */
  experimentName?: string;
  /** The models looked at (and required by `--check`). @default all four kinds */
  models?: readonly ModelKind[];
  /** Latest runs listed per model. @default 3 */
  runsPerModel?: number;
  /**
   * Load every checked version with `mlflow.pyfunc.load_model` in `VENV_DIR` (one Python process
   * for all of them; skipped when the venv has no mlflow). @default false (the CLI turns it on with `--check`)
   */
  python?: boolean;
  /** Per HTTP request to MLflow and the API, in ms. @default 10000 */
  httpTimeoutMs?: number;
  /** For the whole Python load step, in ms. @default 300000 */
  pythonTimeoutMs?: number;
}

export type ResolvedReportOptions = Required<Omit<ModelsReportOptions, 'models'>> & { models: ModelKind[] };

/** Fills the defaults in; throws `TypeError` for values that cannot work. */
export function withDefaults(options: ModelsReportOptions = {}): ResolvedReportOptions {
  const resolved: ResolvedReportOptions = {
    experimentName: options.experimentName ?? DEFAULT_EXPERIMENT,
    models: [...(options.models ?? MODEL_KINDS)],
    runsPerModel: options.runsPerModel ?? 3,
    python: options.python ?? false,
    httpTimeoutMs: options.httpTimeoutMs ?? 10_000,
    pythonTimeoutMs: options.pythonTimeoutMs ?? 300_000,
  };
  if (resolved.experimentName.trim() === '') throw new TypeError('experimentName must not be empty');
  if (resolved.models.length === 0) throw new TypeError('models must name at least one model kind');
  for (const m of resolved.models) if (!(MODEL_KINDS as readonly string[]).includes(m)) throw new TypeError(`unknown model kind ${JSON.stringify(m)}; expected ${MODEL_KINDS.join(', ')}`);
  if (!Number.isInteger(resolved.runsPerModel) || resolved.runsPerModel < 0) throw new TypeError(`runsPerModel must be an integer >= 0, got ${resolved.runsPerModel}`);
  if (!(resolved.httpTimeoutMs > 0)) throw new TypeError(`httpTimeoutMs must be > 0, got ${resolved.httpTimeoutMs}`);
  if (!(resolved.pythonTimeoutMs > 0)) throw new TypeError(`pythonTimeoutMs must be > 0, got ${resolved.pythonTimeoutMs}`);
  return resolved;
}

export const MODELS_USAGE = `Usage: npm run models -- [options]

Where the models are: MLflow runs and their artifacts (with the path on disk for the local
stack), the registry's versions, the model store's champion/ and canary/, and what the serving
API has loaded, ending with a location summary.

  --check            run the diagnostics; prints ✓/✗ per check, exits 1 if any fails
  --json             print everything (report, summary, checks) as JSON
  --experiment NAME  MLflow experiment of the training runs (default ${DEFAULT_EXPERIMENT})
  --models LIST      comma-separated kinds (default ${MODEL_KINDS.join(',')})
  --runs N           latest runs listed per model (default 3)
  --python           also load each checked version with mlflow.pyfunc (default: with --check)
  --no-python        never start Python
  --help             this text

Reads MLFLOW_TRACKING_URI, DATA_DIR, MODEL_STORE_DIR, API_URL, API_ADMIN_TOKEN and VENV_DIR
like the rest of the project. Exit codes: 0 fine, 1 a check failed (--check), 2 bad usage.`;

export interface ModelsCliArgs {
  check: boolean;
  json: boolean;
  report: ResolvedReportOptions;
}

/** The command line; undefined for `--help`. Throws {@link ModelsCliUsageError}. */
export function parseModelsArgs(argv: readonly string[]): ModelsCliArgs | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        check: { type: 'boolean' },
        json: { type: 'boolean' },
        experiment: { type: 'string' },
        models: { type: 'string' },
        runs: { type: 'string' },
        python: { type: 'boolean' },
        'no-python': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new ModelsCliUsageError((err as Error).message);
  }
  if (values.help) return undefined;
  if (values.python && values['no-python']) throw new ModelsCliUsageError('--python and --no-python contradict each other');
  const check = values.check === true;
  const options: ModelsReportOptions = { python: values['no-python'] ? false : values.python === true || check };
  if (typeof values.experiment === 'string') {
    if (values.experiment.trim() === '') throw new ModelsCliUsageError('--experiment must not be empty');
    options.experimentName = values.experiment;
  }
  if (typeof values.models === 'string') {
    const kinds = values.models.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const unknown = kinds.filter((k) => !(MODEL_KINDS as readonly string[]).includes(k));
    if (kinds.length === 0 || unknown.length > 0) {
      throw new ModelsCliUsageError(`--models takes a comma-separated list of ${MODEL_KINDS.join(', ')}; got ${JSON.stringify(values.models)}`);
    }
    options.models = [...new Set(kinds)] as ModelKind[];
  }
  if (typeof values.runs === 'string') {
    const n = Number(values.runs);
    if (values.runs.trim() === '' || !Number.isInteger(n) || n < 0) throw new ModelsCliUsageError(`--runs must be an integer >= 0, got ${JSON.stringify(values.runs)}`);
    options.runsPerModel = n;
  }
  return { check, json: values.json === true, report: withDefaults(options) };
}
