/** The REST API: JSON GETs with the bearer token (when one is set) and clear errors. */

const TOKEN_KEY = "oracle.token";

/** An API answer that was not 2xx; `status` 0 means the server could not be reached. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The bearer token: remembered on this browser (local storage) or for this tab only
 * (session storage). */
export function authToken(): string | null {
  return window.localStorage.getItem(TOKEN_KEY) ?? window.sessionStorage.getItem(TOKEN_KEY);
}

/** Take a `?token=` of the address (a link handed out once): store it and remove it from the
 * address bar, so it is neither bookmarked nor shared with the page. */
export function adoptUrlToken(): void {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token === null) return;
  if (token) setAuthToken(token, true);
  url.searchParams.delete("token");
  window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
}

/** Whether the server asked for a token, and whether the one sent was refused. */
export interface AuthState {
  needed: boolean;
  refused: boolean;
  /** Bumped whenever a new token is set: data loaders reload on it. */
  epoch: number;
}

let auth: AuthState = { needed: false, refused: false, epoch: 0 };
const authListeners = new Set<() => void>();

function setAuth(next: AuthState): void {
  auth = next;
  for (const listener of authListeners) listener();
}

/** The current `AuthState` (stable between changes, for `useSyncExternalStore`). */
export function authState(): AuthState {
  return auth;
}

/** Call `listener` on every change of `authState()`; returns the unsubscribe. */
export function onAuthChange(listener: () => void): () => void {
  authListeners.add(listener);
  return () => authListeners.delete(listener);
}

/** The server answered 401 to a request sent with `sentToken`. Answers to a token that has
 * been replaced since (requests under way while the user typed a new one) are ignored. */
export function reportUnauthorized(sentToken: string | null): void {
  if (sentToken !== authToken() || auth.needed) return;
  setAuth({ ...auth, needed: true, refused: sentToken !== null });
}

/** Store `token` (on this browser when `remember`, else for this tab) and reload the data. */
export function setAuthToken(token: string, remember = true): void {
  window.localStorage.removeItem(TOKEN_KEY);
  window.sessionStorage.removeItem(TOKEN_KEY);
  (remember ? window.localStorage : window.sessionStorage).setItem(TOKEN_KEY, token);
  setAuth({ needed: false, refused: false, epoch: auth.epoch + 1 });
}

function authHeaders(token: string | null): Record<string, string> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

type Params = Record<string, string | number | null | undefined>;

/** `/api/v1<path>?<params>` (empty and null params left out). */
export function apiUrl(path: string, params: Params = {}): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  const text = query.toString();
  return `/api/v1${path}${text ? `?${text}` : ""}`;
}

/** GET a JSON document of the Jaeger-compatible API (`/jaeger/api<path>`). */
export async function getJaeger<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const token = authToken();
  const url = apiUrl(path, params).replace(/^\/api\/v1/, "/jaeger/api");
  return readJson<T>(await fetch(url, { headers: authHeaders(token), signal }), token);
}

/** GET a JSON document of the API. Throws `ApiError` with the server's `detail`. */
export async function getJson<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const token = authToken();
  let response: Response;
  try {
    response = await fetch(apiUrl(path, params), { headers: authHeaders(token), signal });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "server unreachable");
  }
  return readJson<T>(response, token);
}

/** The JSON of a response, or `ApiError` with the server's `detail`; a 401 (to a request
 * sent with `sentToken`) also asks the user for a token. */
export async function readJson<T>(response: Response, sentToken: string | null = authToken()): Promise<T> {
  if (response.status === 401) reportUnauthorized(sentToken);
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const body = (await response.json()) as { detail?: unknown };
      if (typeof body.detail === "string") detail = body.detail;
    } catch {
      /* not JSON: keep the status text */
    }
    throw new ApiError(response.status, detail || `HTTP ${response.status}`);
  }
  return (await response.json()) as T;
}

declare global {
  interface Window {
    __oracleLatest?: Promise<Response>;
  }
}

/** The latest snapshot asked for by index.html before the app loaded (once), if any. */
export async function prefetchedLatest<T>(): Promise<T | undefined> {
  const pending = window.__oracleLatest;
  if (!pending) return undefined;
  window.__oracleLatest = undefined;
  let response: Response;
  try {
    response = await pending;
  } catch {
    throw new ApiError(0, "server unreachable");
  }
  return readJson<T>(response);
}
