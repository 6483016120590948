import { useState, useSyncExternalStore, type FormEvent } from "react";
import { authState, onAuthChange, setAuthToken } from "@/api/client";

/** Asks for the API's bearer token once the server answered 401 (and again, saying so, when
 * the token given was refused). Setting it reloads every view's data. */
export function TokenDialog() {
  const { needed, refused } = useSyncExternalStore(onAuthChange, authState);
  const [token, setToken] = useState("");
  const [remember, setRemember] = useState(true);
  if (!needed) return null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const given = token.trim();
    if (!given) return;
    setToken("");
    setAuthToken(given, remember);
  };
  return (
    <div className="fixed inset-0 z-50 flex items-center justify-center bg-slate-950/70 p-4 backdrop-blur-sm">
      <form
        role="dialog"
        aria-modal="true"
        aria-labelledby="token-dialog-title"
        className="glass flex w-full max-w-sm flex-col gap-3 p-5"
        data-testid="token-dialog"
        onSubmit={submit}
      >
        <h2 id="token-dialog-title" className="text-sm font-semibold uppercase tracking-wider text-slate-300">
          API token
        </h2>
        <p className="text-sm text-slate-400">This server requires a bearer token (its ORACLE_API_TOKEN).</p>
        {refused ? (
          <p className="rounded-lg border border-rose-500/30 bg-rose-500/10 px-3 py-2 text-sm text-rose-200" role="alert">
            That token was refused.
          </p>
        ) : null}
        <input
          type="password"
          aria-label="API token"
          autoComplete="current-password"
          autoFocus
          value={token}
          onChange={(event) => setToken(event.target.value)}
          className="rounded-lg border border-white/10 bg-white/5 px-3 py-2 font-mono text-sm text-slate-100 outline-none focus:border-sky-400/60"
        />
        <label className="flex items-center gap-2 text-sm text-slate-300">
          <input type="checkbox" checked={remember} onChange={(event) => setRemember(event.target.checked)} />
          Remember on this browser
        </label>
        <button
          type="submit"
          disabled={!token.trim()}
          className="rounded-lg bg-sky-500/80 px-3 py-2 text-sm font-medium text-white transition hover:bg-sky-400 disabled:opacity-40"
        >
          Connect
        </button>
      </form>
    </div>
  );
}
