// Pure formatting for people: times relative ("3 min ago") with the local time beside, byte counts, and
// reading a dotted settings key out of the nested config object.
export function relativeTime(unixSec: number, nowMs: number = Date.now()): string {
  if (!unixSec) return "never";
  const d = Math.round(nowMs / 1000 - unixSec);
  const abs = Math.abs(d);
  const fmt = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  if (abs < 45) return fmt.format(-d, "second");
  if (abs < 45 * 60) return fmt.format(-Math.round(d / 60), "minute");
  if (abs < 22 * 3600) return fmt.format(-Math.round(d / 3600), "hour");
  return fmt.format(-Math.round(d / 86400), "day");
}

export function localTime(unixSec: number): string {
  if (!unixSec) return "";
  return new Date(unixSec * 1000).toLocaleString();
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function duration(sec: number | null | undefined): string {
  if (sec === null || sec === undefined) return "–";
  if (sec < 60) return `${sec} s`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min`;
  if (sec < 86400) return `${Math.floor(sec / 3600)} h ${Math.floor((sec % 3600) / 60)} min`;
  return `${Math.floor(sec / 86400)} d ${Math.floor((sec % 86400) / 3600)} h`;
}

export function lookup(obj: unknown, dotted: string): unknown {
  let cur: unknown = obj;
  for (const part of dotted.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

// {"wireguard.port": 1} → {"wireguard": {"port": 1}}: PUT /api/config takes the nested form.
export function nest(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flat)) {
    const parts = k.split(".");
    let cur = out;
    for (const p of parts.slice(0, -1)) {
      if (typeof cur[p] !== "object" || cur[p] === null) cur[p] = {};
      cur = cur[p] as Record<string, unknown>;
    }
    cur[parts[parts.length - 1]] = v;
  }
  return out;
}
