import { useEffect, useRef, useState, useSyncExternalStore } from "react";
import { ApiError, authState, getJson, onAuthChange } from "@/api/client";

type Params = Record<string, string | number | null | undefined>;

/** Bumped when a new token is set: effects that load data list it to load again. */
export function useAuthEpoch(): number {
  return useSyncExternalStore(onAuthChange, () => authState().epoch);
}

export interface ApiState<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
}

/** GET `path` (null: nothing to fetch), again when the params change or every `refreshMs`.
 * Keeps the last good data while refreshing (and, with `keepWhileLoading`, while loading new
 * params); a failed refresh sets `error`. */
export function useApi<T>(
  path: string | null,
  params: Params = {},
  refreshMs = 0,
  keepWhileLoading = false,
): ApiState<T> {
  const [state, setState] = useState<ApiState<T>>({ data: undefined, error: undefined, loading: true });
  const key = path === null ? null : `${path}?${JSON.stringify(params)}`;
  const keyRef = useRef(key);
  const epoch = useAuthEpoch();
  useEffect(() => {
    if (path === null) {
      setState({ data: undefined, error: undefined, loading: false });
      return;
    }
    const controller = new AbortController();
    let timer: number | undefined;
    const changed = keyRef.current !== key;
    keyRef.current = key;
    if (changed) setState((old) => ({ data: keepWhileLoading ? old.data : undefined, error: undefined, loading: true }));
    const load = async () => {
      try {
        const data = await getJson<T>(path, params, controller.signal);
        setState({ data, error: undefined, loading: false });
      } catch (error) {
        if (controller.signal.aborted) return;
        const failure = error instanceof ApiError ? error : new ApiError(0, String(error));
        setState((old) => ({ data: failure.status === 404 ? undefined : old.data, error: failure, loading: false }));
      }
      if (refreshMs > 0 && !controller.signal.aborted) timer = window.setTimeout(load, refreshMs);
    };
    void load();
    return () => {
      controller.abort();
      window.clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, refreshMs, epoch]);
  return state;
}
