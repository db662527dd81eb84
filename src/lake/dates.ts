/** Date formats of the Rucio REST API. */

const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

const two = (n: number): string => String(n).padStart(2, '0');

/** `Thu, 26 Nov 2026 16:06:11 UTC`: Rucio's `date_to_str` (RFC 1123 with a literal `UTC`). */
export function rfc1123(ms: number): string {
  const d = new Date(ms);
  return (
    `${days[d.getUTCDay()] ?? 'Sun'}, ${two(d.getUTCDate())} ${months[d.getUTCMonth()] ?? 'Jan'} ${d.getUTCFullYear()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC`
  );
}

/** `2026-11-26T15:06:07`: the isoformat Rucio uses in account records. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

const isoLike = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z?$/;
const rfcLike = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (?:UTC|GMT)$/;

/**
 * Parses the date forms Rucio accepts in filters and `updated_after` (all UTC):
 * `YYYY-MM-DDTHH:MM:SS[.ffffff][Z]`, `YYYY-MM-DD HH:MM:SS`, RFC 1123, or an epoch number in seconds.
 * Returns epoch milliseconds, or undefined when the value is none of these.
 */
export function parseRucioDate(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value * 1000 : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const iso = isoLike.exec(text);
  if (iso) {
    const [, y, mo, d, h, mi, s, frac] = iso;
    if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return undefined;
    const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
    const fraction = frac === undefined ? 0 : Number(`0.${frac}`) * 1000;
    return Number.isFinite(ms) ? ms + fraction : undefined;
  }
  const rfc = rfcLike.exec(text);
  if (rfc) {
    const [, d, mon, y, h, mi, s] = rfc;
    const month = months.findIndex((m) => m.toLowerCase() === (mon ?? '').toLowerCase());
    if (month < 0) return undefined;
    return Date.UTC(Number(y), month, Number(d), Number(h), Number(mi), Number(s));
  }
  return undefined;
}
