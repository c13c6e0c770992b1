import { Connection } from '@temporalio/client';

/** Fetch with a deadline; any failure (refused, timeout, non-2xx) is `undefined`. */
async function getText(url: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

/** The MLflow server's version when `/health` answers OK, else `undefined`. */
export async function probeMlflow(trackingUri: string, timeoutMs = 2000): Promise<string | undefined> {
  const health = await getText(`${trackingUri}/health`, timeoutMs);
  if (health?.trim() !== 'OK') return undefined;
  return (await getText(`${trackingUri}/version`, timeoutMs))?.trim() || 'unknown';
}

/** True when a Temporal frontend at address answers its gRPC health check as SERVING. */
export async function probeTemporal(address: string, timeoutMs = 2000): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    const res = await connection.healthService.check({ service: 'temporal.api.workflowservice.v1.WorkflowService' });
    return res.status === 1; // SERVING
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/** True when an HTTP page answers 2xx. */
export async function probeHttp(url: string, timeoutMs = 2000): Promise<boolean> {
  return (await getText(url, timeoutMs)) !== undefined;
}
