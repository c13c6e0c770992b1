/** Small helpers shared by the gatherers. */

/** An error's message; for a failed fetch, its cause's (`ECONNREFUSED …`), which says more. */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  if (err.message === 'fetch failed' && cause instanceof Error) return cause.message || (cause as { code?: string }).code || err.message;
  return err.message;
}

/** Milliseconds since the epoch as ISO 8601; null when absent. */
export function isoTime(ms: number | undefined | null): string | null {
  return ms === undefined || ms === null || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}
