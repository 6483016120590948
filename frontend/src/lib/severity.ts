/** What red, amber and green mean: one place maps states to a tone. */

export type Tone = "ok" | "warn" | "bad" | "idle" | "info";

export const TONE_TEXT: Record<Tone, string> = {
  ok: "text-emerald-300",
  warn: "text-amber-300",
  bad: "text-rose-300",
  idle: "text-slate-400",
  info: "text-sky-300",
};

export const TONE_DOT: Record<Tone, string> = {
  ok: "bg-emerald-400",
  warn: "bg-amber-400",
  bad: "bg-rose-500",
  idle: "bg-slate-500",
  info: "bg-sky-400",
};

export const TONE_BADGE: Record<Tone, string> = {
  ok: "border-emerald-400/30 bg-emerald-400/10 text-emerald-200",
  warn: "border-amber-400/30 bg-amber-400/10 text-amber-200",
  bad: "border-rose-500/40 bg-rose-500/15 text-rose-200",
  idle: "border-slate-400/20 bg-slate-400/10 text-slate-300",
  info: "border-sky-400/30 bg-sky-400/10 text-sky-200",
};

export const TONE_HEX: Record<Tone, string> = {
  ok: "#34d399",
  warn: "#fbbf24",
  bad: "#f43f5e",
  idle: "#64748b",
  info: "#38bdf8",
};

export function agentTone(status: string): Tone {
  return status === "error" ? "bad" : status === "running" ? "ok" : "idle";
}

export function kafkaTone(status: string): Tone {
  if (status === "OK") return "ok";
  if (status === "WARN") return "warn";
  return "bad"; // STALL, STOP, ERR
}

export function severityTone(severity: string): Tone {
  const s = severity.toLowerCase();
  if (s === "critical" || s === "error" || s === "fatal") return "bad";
  if (s === "warning" || s === "warn") return "warn";
  return "info";
}

export function healthTone(status: string): Tone {
  if (status === "ok") return "ok";
  if (status === "degraded" || status === "starting") return "warn";
  if (status === "stopped") return "idle";
  return "bad";
}

/** A gauge's tone from how full it is (usage / limit). */
export function fillTone(ratio: number | null): Tone {
  if (ratio === null) return "idle";
  if (ratio >= 0.9) return "bad";
  if (ratio >= 0.7) return "warn";
  return "ok";
}
