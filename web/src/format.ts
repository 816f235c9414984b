/** "12 s ago", "4 min ago", "3 h ago", "2 d ago"; "never" for null. */
export function ago(timestamp: string | null, now: number): string {
  if (timestamp === null) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(timestamp)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

/** "in 40 s", "in 3 min"… for a time to come (or `ago` once it passed). */
export function until(timestamp: string | null, now: number): string {
  if (timestamp === null) return '—';
  const seconds = Math.round((Date.parse(timestamp) - now) / 1000);
  if (seconds < 0) return ago(timestamp, now);
  if (seconds < 60) return `in ${seconds} s`;
  if (seconds < 3600) return `in ${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `in ${Math.floor(seconds / 3600)} h`;
  return `in ${Math.floor(seconds / 86_400)} d`;
}

/** "850 ms", "12.3 s", "4.5 min"; "—" for null. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** "87 %" of a 0..1 rate; "—" when there is nothing to rate. */
export function percent(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? '—' : `${Math.round(rate * 100)} %`;
}

/** A local date and time, e.g. "2026-12-03 14:05:09". */
export function dateTime(timestamp: string | null): string {
  if (timestamp === null) return '—';
  const date = new Date(timestamp);
  const pad = (value: number) => String(value).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** A short id for tables: the first 8 characters of a UUID. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** JSON for a person: indented, or the string itself. */
export function pretty(value: unknown): string {
  if (value === null || value === undefined) return '—';
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}
