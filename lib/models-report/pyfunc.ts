/**
 * The seed's third diagnostic, `mlflow.pyfunc.load_model('models:/…')`, run in the project's
 * `.venv` for many versions at once: one Python process (importing mlflow takes seconds) loads
 * each URI and prints one marked JSON line per URI, so MLflow's own chatter on stdout is ignored.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadOutcome } from './types';

const MARKER = '@@models-report@@';

const SCRIPT = `
import json, os, sys
marker, dst = sys.argv[1], sys.argv[2]
def say(obj):
    print(marker + json.dumps(obj), flush=True)
try:
    import mlflow.pyfunc
except Exception as e:
    say({"skip": "mlflow is not importable: %s: %s" % (type(e).__name__, e)})
    sys.exit(0)
for i, uri in enumerate(sys.argv[3:]):
    try:
        target = os.path.join(dst, str(i))
        os.makedirs(target, exist_ok=True)
        model = mlflow.pyfunc.load_model(uri, dst_path=target)
        flavor = model.metadata.flavors.get("python_function", {}).get("loader_module", "?")
        say({"uri": uri, "ok": True, "detail": "loaded with %s" % flavor})
    except Exception as e:
        say({"uri": uri, "ok": False, "detail": ("%s: %s" % (type(e).__name__, e)).strip().splitlines()[0][:500]})
`;

export interface PyfuncOptions {
  /** The virtualenv (`VENV_DIR`). */
  venvDir: string;
  /** Handed to Python as `MLFLOW_TRACKING_URI`. */
  trackingUri: string;
  /** For the whole process, in ms. */
  timeoutMs: number;
}

/**
 * Loads each `models:/` URI with pyfunc. Resolves to one outcome per URI: `skipped` for all when
 * the venv has no Python or no mlflow, `failed` for the ones not reached when Python dies or times out.
 */
export async function pyfuncLoadAll(uris: readonly string[], options: PyfuncOptions): Promise<Map<string, LoadOutcome>> {
  const out = new Map<string, LoadOutcome>();
  if (uris.length === 0) return out;
  const python = join(options.venvDir, 'bin', 'python');
  const skipAll = (detail: string) => {
    for (const uri of uris) out.set(uri, { status: 'skipped', detail });
    return out;
  };
  if (!existsSync(python)) return skipAll(`no Python at ${python} (npm run bootstrap creates it)`);
  const dst = await mkdtemp(join(tmpdir(), 'models-report-pyfunc-'));
  let stdout = '';
  let failure: string | undefined;
  try {
    const result = await new Promise<{ stdout: string; error?: Error & { killed?: boolean }; stderr: string }>((resolve) => {
      execFile(
        python,
        ['-u', '-c', SCRIPT, MARKER, dst, ...uris],
        { env: { ...process.env, MLFLOW_TRACKING_URI: options.trackingUri, PYTHONWARNINGS: 'ignore' }, timeout: options.timeoutMs, maxBuffer: 16 * 1024 * 1024 },
        (error, so, se) => resolve({ stdout: String(so), stderr: String(se), ...(error ? { error } : {}) }),
      );
    });
    stdout = result.stdout;
    if (result.error) {
      const lastLine = result.stderr.trim().split('\n').pop() ?? '';
      failure = result.error.killed ? `Python did not finish within ${options.timeoutMs} ms` : `Python failed: ${lastLine || result.error.message}`;
    }
  } finally {
    await rm(dst, { recursive: true, force: true });
  }
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(MARKER)) continue;
    const msg = JSON.parse(line.slice(MARKER.length)) as { skip?: string; uri?: string; ok?: boolean; detail?: string };
    if (msg.skip !== undefined) return skipAll(msg.skip);
    if (msg.uri !== undefined) out.set(msg.uri, { status: msg.ok ? 'ok' : 'failed', detail: msg.detail ?? '' });
  }
  for (const uri of uris) if (!out.has(uri)) out.set(uri, { status: 'failed', detail: failure ?? 'Python gave no answer for it' });
  return out;
}
