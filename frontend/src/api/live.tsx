/** The live system: `WS /api/v1/live` when the server offers it, else polling the REST API.
 *
 * The socket reconnects with backoff; while it is down the latest snapshot is polled every
 * two seconds, so the Overview keeps moving either way. Alerts arrive on the socket, or are
 * polled from `/alerts` (and taken from the snapshot) without it.
 */

import { createContext, startTransition, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { ApiError, authToken, getJson, prefetchedLatest } from "@/api/client";
import type { Alert, InfraEventJson, LiveMessage, StoredSnapshot } from "@/api/types";
import { useAuthEpoch } from "@/api/useApi";
import { mergeAlerts } from "@/lib/snapshot";

export type Connection = "connecting" | "live" | "polling" | "unreachable";

export interface LiveState {
  connection: Connection;
  latest: StoredSnapshot | null;
  /** True once the server answered that it has no snapshot yet. */
  empty: boolean;
  alerts: Alert[];
  events: InfraEventJson[];
  /** Snapshots received since the page opened (bounded), oldest first. */
  recent: StoredSnapshot[];
}

const POLL_MS = 2000;
const MAX_RECENT = 300;
const MAX_EVENTS = 200;
const MAX_ALERTS = 200;

const LiveContext = createContext<LiveState>({
  connection: "connecting",
  latest: null,
  empty: false,
  alerts: [],
  events: [],
  recent: [],
});

export function useLive(): LiveState {
  return useContext(LiveContext);
}

function socketUrl(since: string | null): string {
  const url = new URL("/api/v1/live", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const token = authToken();
  if (token) url.searchParams.set("token", token);
  if (since) url.searchParams.set("since", since);
  return url.toString();
}

export function LiveProvider({ children }: { children: ReactNode }) {
  const [connection, setConnection] = useState<Connection>("connecting");
  const [latest, setLatest] = useState<StoredSnapshot | null>(null);
  const [empty, setEmpty] = useState(false);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [events, setEvents] = useState<InfraEventJson[]>([]);
  const [recent, setRecent] = useState<StoredSnapshot[]>([]);
  const socketOpen = useRef(false);
  const reconnectNow = useRef<() => void>(() => {});
  // A new token (the token dialog): both loops start over with it.
  const epoch = useAuthEpoch();

  const first = useRef(true);
  // A new snapshot re-renders every panel: after the first, as a transition, which React
  // renders in slices between frames instead of in one long task.
  const accept = (found: StoredSnapshot) => {
    if (first.current) {
      first.current = false;
      update(found);
    } else startTransition(() => update(found));
  };
  const update = (found: StoredSnapshot) => {
    setEmpty(false);
    setLatest((old) => (old && old.timestamp_unix_nano >= found.timestamp_unix_nano ? old : found));
    setRecent((old) => {
      const last = old[old.length - 1];
      if (last && last.timestamp_unix_nano >= found.timestamp_unix_nano) return old;
      return [...old.slice(-MAX_RECENT + 1), found];
    });
  };

  // The socket, reconnecting with backoff (1 s doubling to 30 s).
  useEffect(() => {
    let socket: WebSocket | null = null;
    let retry: number | undefined;
    let attempt = 0;
    let stopped = false;
    let since: string | null = null;
    const open = () => {
      socket = new WebSocket(socketUrl(since));
      socket.onopen = () => {
        attempt = 0;
      };
      socket.onmessage = (message) => {
        let parsed: LiveMessage;
        try {
          parsed = JSON.parse(String(message.data)) as LiveMessage;
        } catch {
          return;
        }
        if (parsed.type === "hello") {
          socketOpen.current = true;
          setConnection("live");
        } else if (parsed.type === "snapshot") {
          socketOpen.current = true;
          setConnection("live");
          accept({ timestamp_unix_nano: parsed.timestamp_unix_nano, snapshot: parsed.snapshot });
        } else if (parsed.type === "alert") {
          since = parsed.alert.last_at > (since ?? "") ? parsed.alert.last_at : since;
          setAlerts((old) => mergeAlerts(old, [parsed.alert]).slice(0, MAX_ALERTS));
        } else if (parsed.type === "event") {
          setEvents((old) => [parsed.event, ...old].slice(0, MAX_EVENTS));
        }
      };
      socket.onclose = () => {
        socketOpen.current = false;
        if (stopped) return;
        setConnection((old) => (old === "live" ? "polling" : old));
        attempt += 1;
        retry = window.setTimeout(() => {
          retry = undefined;
          open();
        }, Math.min(30_000, 1000 * 2 ** Math.min(attempt - 1, 5)));
      };
    };
    // When polling finds the server back, try the socket at once instead of after the backoff.
    reconnectNow.current = () => {
      if (socket && socket.readyState === WebSocket.CLOSED && retry !== undefined) {
        window.clearTimeout(retry);
        retry = undefined;
        open();
      }
    };
    open();
    return () => {
      stopped = true;
      window.clearTimeout(retry);
      socket?.close();
    };
  }, [epoch]);

  // Polling while the socket is not delivering.
  useEffect(() => {
    let timer: number | undefined;
    let stopped = false;
    let alertsAvailable = true;
    let rounds = 0;
    const poll = async () => {
      if (!socketOpen.current) {
        try {
          const early = await prefetchedLatest<StoredSnapshot>();
          accept(early ?? (await getJson<StoredSnapshot>("/snapshots/latest")));
          // The socket may have opened while this request was under way: it then wins.
          if (!socketOpen.current) setConnection("polling");
          reconnectNow.current();
        } catch (error) {
          if (error instanceof ApiError && error.status === 404) {
            setEmpty(true);
            if (!socketOpen.current) setConnection("polling");
          } else if (error instanceof ApiError && error.status !== 401 && !socketOpen.current) {
            setConnection("unreachable");
          }
        }
        if (alertsAvailable && rounds % 5 === 0) {
          try {
            const body = await getJson<{ alerts: Alert[] }>("/alerts", { limit: 50 });
            setAlerts((old) => mergeAlerts(old, body.alerts).slice(0, MAX_ALERTS));
          } catch (error) {
            if (error instanceof ApiError && error.status === 404) alertsAvailable = false;
          }
        }
        rounds += 1;
      }
      if (!stopped) timer = window.setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [epoch]);

  const value = useMemo(
    () => ({ connection, latest, empty, alerts, events, recent }),
    [connection, latest, empty, alerts, events, recent],
  );
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}
