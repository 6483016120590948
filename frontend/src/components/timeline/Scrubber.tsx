import { useEffect, useMemo, useRef, useState, type PointerEvent as ReactPointerEvent } from "react";
import type { Alert, InfraEventJson, StoredSnapshot } from "@/api/types";
import { useApi } from "@/api/useApi";
import { formatClock, toRfc3339 } from "@/lib/format";
import { severityTone, TONE_DOT } from "@/lib/severity";
import { alertMarks, eventMarks, neighbour, position, timeAt } from "@/components/timeline/marks";

const RANGES = [
  { label: "15m", ms: 15 * 60_000 },
  { label: "1h", ms: 3600_000 },
  { label: "6h", ms: 6 * 3600_000 },
  { label: "24h", ms: 24 * 3600_000 },
];
const PLAY_MS = 600;

function Icon({ d }: { d: string }) {
  return (
    <svg viewBox="0 0 24 24" className="h-3.5 w-3.5" fill="currentColor" stroke="currentColor" strokeWidth={2} strokeLinejoin="round" aria-hidden>
      <path d={d} />
    </svg>
  );
}

function useNow(everyMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => window.clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** The time axis: drag to any retained moment, play, pause, step, back to live. */
export function Scrubber({ at, onChange }: { at: number | null; onChange: (t: number | null, commit: boolean) => void }) {
  const [rangeMs, setRangeMs] = useState(RANGES[0].ms);
  const [playing, setPlaying] = useState(false);
  const [dragging, setDragging] = useState<number | null>(null);
  const now = useNow(5000);
  // The window always ends now; a scrubbed time older than it widens it.
  const end = Math.ceil(now / 1000) * 1000;
  const start = Math.min(end - rangeMs, at !== null ? at - rangeMs * 0.1 : Infinity);
  const stepS = Math.max(1, Math.round((end - start) / 1000 / 150));
  const params = { start: toRfc3339(start - (start % 60_000)), end: toRfc3339(end - (end % 5000)), step: stepS };
  const index = useApi<{ snapshots: StoredSnapshot[] }>("/snapshots", params, 15_000, true);
  const alerts = useApi<{ alerts: Alert[] }>("/alerts", { start: params.start, end: params.end, limit: 500 }, 15_000, true);
  const noAlertsRoute = alerts.error?.status === 404;
  const events = useApi<{ events: InfraEventJson[] }>(noAlertsRoute ? "/events" : null, { start: params.start, end: params.end, limit: 500 }, 15_000, true);
  const times = useMemo(() => (index.data?.snapshots ?? []).map((s) => s.timestamp_unix_nano / 1e6), [index.data]);
  const marks = useMemo(
    () => (alerts.data ? alertMarks(alerts.data.alerts) : eventMarks(events.data?.events ?? [])),
    [alerts.data, events.data],
  );
  const track = useRef<HTMLDivElement>(null);
  const lastCommit = useRef(0);

  const shown = dragging ?? at ?? end;
  const fromPointer = (event: ReactPointerEvent) => {
    const box = track.current!.getBoundingClientRect();
    return timeAt((event.clientX - box.left) / box.width, start, end);
  };
  const move = (t: number, commit: boolean) => {
    const live = t >= end - 500;
    const now2 = performance.now();
    if (commit || now2 - lastCommit.current > 150) {
      lastCommit.current = now2;
      onChange(live ? null : t, commit);
    }
  };

  // Play: one snapshot forward per tick; past the newest, back to live.
  useEffect(() => {
    if (!playing) return;
    const timer = window.setInterval(() => {
      const from = at ?? times[0] ?? end;
      const next = neighbour(times, from, 1);
      if (next === null) {
        setPlaying(false);
        onChange(null, true);
      } else onChange(next, true);
    }, PLAY_MS);
    return () => window.clearInterval(timer);
  }, [playing, at, times, end, onChange]);

  const step = (dir: -1 | 1) => {
    setPlaying(false);
    const next = neighbour(times, at ?? end, dir);
    if (next !== null) onChange(next, true);
    else if (dir > 0) onChange(null, true);
  };
  const first = times[0];
  const last = times[times.length - 1];
  return (
    <section className="glass flex flex-col gap-2 px-4 py-3" data-testid="scrubber">
      <div className="flex flex-wrap items-center gap-2 text-sm">
        <button type="button" className="btn flex h-7 items-center" onClick={() => step(-1)} aria-label="step back" title="previous snapshot">
          <Icon d="M6 5v14M18 5l-9 7 9 7z" />
        </button>
        <button type="button" className="btn flex h-7 items-center" onClick={() => setPlaying((p) => !p)} aria-label={playing ? "pause" : "play"}>
          {playing ? <Icon d="M8 5v14M16 5v14" /> : <Icon d="M7 5l12 7-12 7z" />}
        </button>
        <button type="button" className="btn flex h-7 items-center" onClick={() => step(1)} aria-label="step forward" title="next snapshot">
          <Icon d="M18 5v14M6 5l9 7-9 7z" />
        </button>
        <button
          type="button"
          className={`btn ${at === null ? "border-emerald-400/40 text-emerald-200" : ""}`}
          onClick={() => {
            setPlaying(false);
            onChange(null, true);
          }}
          data-testid="go-live"
        >
          ● Live
        </button>
        <span className="ml-2 font-mono text-slate-200" data-testid="scrubber-time">
          {at === null && dragging === null ? "live" : formatClock(shown, true)}
        </span>
        <span className="ml-auto flex gap-1">
          {RANGES.map((r) => (
            <button
              key={r.label}
              type="button"
              className={`rounded-md px-2 py-0.5 text-xs ${r.ms === rangeMs ? "bg-white/10 text-white" : "text-slate-400 hover:text-slate-200"}`}
              onClick={() => setRangeMs(r.ms)}
            >
              {r.label}
            </button>
          ))}
        </span>
      </div>
      <div
        ref={track}
        className="relative h-9 cursor-ew-resize touch-none select-none rounded-lg bg-white/[0.03]"
        role="slider"
        tabIndex={0}
        aria-label="time"
        aria-valuemin={start}
        aria-valuemax={end}
        aria-valuenow={shown}
        aria-valuetext={formatClock(shown, true)}
        data-testid="scrubber-track"
        data-start={start}
        data-end={end}
        onKeyDown={(e) => {
          if (e.key === "ArrowLeft") step(-1);
          if (e.key === "ArrowRight") step(1);
        }}
        onPointerDown={(e) => {
          setPlaying(false);
          (e.target as Element).setPointerCapture?.(e.pointerId);
          const t = fromPointer(e);
          setDragging(t);
          move(t, false);
        }}
        onPointerMove={(e) => {
          if (dragging === null) return;
          const t = fromPointer(e);
          setDragging(t);
          move(t, false);
        }}
        onPointerUp={(e) => {
          if (dragging === null) return;
          move(fromPointer(e), true);
          setDragging(null);
        }}
      >
        {first !== undefined && last !== undefined ? (
          <div
            className="absolute inset-y-2 rounded bg-sky-400/10"
            style={{ left: `${position(first, start, end) * 100}%`, right: `${(1 - position(last, start, end)) * 100}%` }}
            title="retained snapshots"
          />
        ) : null}
        {times.map((t) => (
          <div key={t} className="absolute bottom-1 h-1.5 w-px bg-sky-300/30" style={{ left: `${position(t, start, end) * 100}%` }} />
        ))}
        {marks.map((m) => (
          <div
            key={m.id}
            title={`${formatClock(m.t)} ${m.label}`}
            data-testid="scrubber-mark"
            className={`absolute top-1 h-2.5 w-1 -translate-x-1/2 rounded-sm ${TONE_DOT[severityTone(m.severity)]}`}
            style={{ left: `${position(m.t, start, end) * 100}%` }}
          />
        ))}
        <div
          className="pointer-events-none absolute inset-y-0 w-0.5 -translate-x-1/2 bg-slate-100 shadow-[0_0_10px_rgba(255,255,255,0.6)]"
          style={{ left: `${position(shown, start, end) * 100}%` }}
          data-testid="scrubber-cursor"
        />
        <div className="pointer-events-none absolute -bottom-4 left-0 text-[10px] text-slate-500">{formatClock(start)}</div>
        <div className="pointer-events-none absolute -bottom-4 right-0 text-[10px] text-slate-500">{formatClock(end)}</div>
      </div>
      <div className="h-2" />
    </section>
  );
}
