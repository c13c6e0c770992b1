/** How times and sizes read in the report. Pure. */

/** `2025-11-04T10:00:00.123Z` → `2025-11-04 10:00:00Z`. */
export function formatTime(iso: string | null): string {
  if (iso === null) return '—';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function formatBytes(n: number | null): string {
  if (n === null) return '?';
  if (n < 1024) return `${n} B`;
  const units = ['kB', 'MB', 'GB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}
