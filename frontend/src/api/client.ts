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

/** The bearer token: from `?token=` (then remembered) or from local storage. */
export function authToken(): string | null {
  const fromUrl = new URLSearchParams(window.location.search).get("token");
  if (fromUrl) {
    window.localStorage.setItem(TOKEN_KEY, fromUrl);
    return fromUrl;
  }
  return window.localStorage.getItem(TOKEN_KEY);
}

export function setAuthToken(token: string): void {
  window.localStorage.setItem(TOKEN_KEY, token);
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
  const headers: Record<string, string> = { Accept: "application/json" };
  const token = authToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const url = apiUrl(path, params).replace(/^\/api\/v1/, "/jaeger/api");
  return readJson<T>(await fetch(url, { headers, signal }));
}

/** GET a JSON document of the API. Throws `ApiError` with the server's `detail`. */
export async function getJson<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const token = authToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(apiUrl(path, params), { headers, signal });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "server unreachable");
  }
  return readJson<T>(response);
}

/** The JSON of a response, or `ApiError` with the server's `detail`. */
export async function readJson<T>(response: Response): Promise<T> {
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
