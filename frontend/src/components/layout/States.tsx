import type { ReactNode } from "react";
import type { ApiError } from "@/api/client";

/** Loading, empty and error states, the same everywhere. */
export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <div className="flex items-center gap-2 py-6 text-sm text-slate-400" role="status" data-state="loading">
      <span className="h-2 w-2 animate-pulse rounded-full bg-sky-400" />
      {what}…
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return (
    <div className="py-6 text-sm text-slate-400" data-state="empty">
      {children}
    </div>
  );
}

export function ErrorState({ error, what }: { error: ApiError; what: string }) {
  const text =
    error.status === 0
      ? `Server unreachable — retrying. (${what})`
      : error.status === 404
        ? `${what}: not found. ${error.message}`
        : `${what}: ${error.message} (HTTP ${error.status})`;
  return (
    <div
      className="rounded-lg border border-rose-500/30 bg-rose-500/10 px-3 py-2 text-sm text-rose-200"
      role="alert"
      data-state="error"
    >
      {text}
    </div>
  );
}
