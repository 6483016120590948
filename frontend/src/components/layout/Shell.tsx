import type { ReactNode } from "react";
import { NavLink } from "react-router";
import { useLive, type Connection } from "@/api/live";
import { Dot } from "@/components/layout/Badge";
import type { Tone } from "@/lib/severity";

const CONNECTION: Record<Connection, { tone: Tone; text: string }> = {
  connecting: { tone: "idle", text: "connecting" },
  live: { tone: "ok", text: "live" },
  polling: { tone: "info", text: "polling" },
  unreachable: { tone: "bad", text: "server unreachable — reconnecting" },
};

function Tab({ to, children }: { to: string; children: ReactNode }) {
  return (
    <NavLink
      to={to}
      end={to === "/"}
      className={({ isActive }) =>
        `rounded-lg px-3 py-1.5 text-sm transition ${isActive ? "bg-white/10 text-white" : "text-slate-400 hover:bg-white/5 hover:text-slate-200"}`
      }
    >
      {children}
    </NavLink>
  );
}

/** The page frame: brand, navigation, connection state. */
export function Shell({ children }: { children: ReactNode }) {
  const { connection } = useLive();
  const state = CONNECTION[connection];
  return (
    <div className="mx-auto flex min-h-screen max-w-[1920px] flex-col gap-4 p-4">
      <header className="glass flex items-center justify-between gap-4 px-4 py-2.5">
        <div className="flex items-center gap-6">
          <span className="flex items-center gap-2 font-semibold tracking-wide text-slate-100">
            <span className="h-3 w-3 rounded-full bg-gradient-to-br from-sky-300 to-indigo-500 shadow-[0_0_12px_rgba(56,189,248,0.7)]" />
            Oracle Monitor
          </span>
          <nav className="flex gap-1">
            <Tab to="/">Overview</Tab>
            <Tab to="/traces">Traces</Tab>
          </nav>
        </div>
        <span className="flex items-center gap-2 text-xs text-slate-400" data-testid="connection" data-connection={connection}>
          <Dot tone={state.tone} pulse={connection === "live"} />
          {state.text}
        </span>
      </header>
      <main className="flex flex-1 flex-col gap-4">{children}</main>
    </div>
  );
}
