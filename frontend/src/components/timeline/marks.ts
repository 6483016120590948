/** Marks on the scrubber's time axis (pure helpers). */

import type { Alert, InfraEventJson } from "@/api/types";

export interface TimeMark {
  id: string;
  t: number;
  severity: string;
  label: string;
}

export function alertMarks(alerts: Alert[]): TimeMark[] {
  return alerts.map((a) => ({ id: a.id, t: Date.parse(a.first_at), severity: a.severity, label: `${a.kind}: ${a.summary}` }));
}

/** Problem events (warning or worse) as marks, when the server has no alerts route. */
export function eventMarks(events: InfraEventJson[]): TimeMark[] {
  return events
    .filter((e) => e.severity !== "info")
    .map((e) => ({ id: e.event_id, t: e.time_unix_nano / 1e6, severity: e.severity.toLowerCase(), label: `${e.kind}: ${e.summary}` }));
}

/** The fraction (0..1) of the axis [start, end] where `t` lies, clamped. */
export function position(t: number, start: number, end: number): number {
  if (end <= start) return 1;
  return Math.min(1, Math.max(0, (t - start) / (end - start)));
}

/** The time at fraction `x` of the axis. */
export function timeAt(x: number, start: number, end: number): number {
  return start + Math.min(1, Math.max(0, x)) * (end - start);
}

/** The neighbour of `t` among sorted `times` in direction `dir` (-1 before, +1 after). */
export function neighbour(times: number[], t: number, dir: -1 | 1): number | null {
  if (dir < 0) {
    for (let i = times.length - 1; i >= 0; i -= 1) if (times[i] < t - 1) return times[i];
    return null;
  }
  for (const time of times) if (time > t + 1) return time;
  return null;
}
