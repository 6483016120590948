import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { adoptUrlToken, ApiError, authState, authToken, getJson, onAuthChange, setAuthToken } from "@/api/client";

const refused = () =>
  new Response(JSON.stringify({ detail: "authentication required" }), {
    status: 401,
    headers: { "Content-Type": "application/json" },
  });
const ok = (body: unknown) => new Response(JSON.stringify(body), { status: 200 });

/** The Authorization header of the `n`th fetch call. */
function sentAuth(fetchMock: ReturnType<typeof vi.fn>, n: number): string | undefined {
  const init = fetchMock.mock.calls[n][1] as RequestInit;
  return (init.headers as Record<string, string>).Authorization;
}

describe("the API token", () => {
  let fetchMock: ReturnType<typeof vi.fn>;
  beforeEach(() => {
    window.localStorage.clear();
    window.sessionStorage.clear();
    window.history.replaceState(null, "", "/");
    fetchMock = vi.fn();
    vi.stubGlobal("fetch", fetchMock);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    // Leave the module's state as a fresh page has it.
    if (authState().needed) setAuthToken("reset");
    window.localStorage.clear();
  });

  it("takes ?token= from the address, remembers it and strips it from the address bar", () => {
    window.history.replaceState(null, "", "/traces?token=s3cret&service=api#x");
    adoptUrlToken();
    expect(authToken()).toBe("s3cret");
    expect(window.localStorage.getItem("oracle.token")).toBe("s3cret");
    expect(window.location.pathname + window.location.search + window.location.hash).toBe("/traces?service=api#x");
  });

  it("leaves an address without a token alone", () => {
    window.history.replaceState(null, "", "/?at=2026-01-01T00:00:00Z");
    adoptUrlToken();
    expect(authToken()).toBeNull();
    expect(window.location.search).toBe("?at=2026-01-01T00:00:00Z");
  });

  it("asks for a token on the first 401, sends the one set and bumps the epoch", async () => {
    const changes = vi.fn();
    const unsubscribe = onAuthChange(changes);
    fetchMock.mockResolvedValueOnce(refused());
    await expect(getJson("/agents")).rejects.toEqual(new ApiError(401, "authentication required"));
    expect(sentAuth(fetchMock, 0)).toBeUndefined();
    expect(authState()).toMatchObject({ needed: true, refused: false });
    const epoch = authState().epoch;

    setAuthToken("right", true);
    expect(authState()).toEqual({ needed: false, refused: false, epoch: epoch + 1 });
    expect(changes).toHaveBeenCalledTimes(2);
    fetchMock.mockResolvedValueOnce(ok({ agents: [] }));
    await expect(getJson("/agents")).resolves.toEqual({ agents: [] });
    expect(sentAuth(fetchMock, 1)).toBe("Bearer right");
    unsubscribe();
  });

  it("says the token was refused when the one sent gets 401", async () => {
    setAuthToken("wrong", true);
    fetchMock.mockResolvedValueOnce(refused());
    await expect(getJson("/agents")).rejects.toBeInstanceOf(ApiError);
    expect(sentAuth(fetchMock, 0)).toBe("Bearer wrong");
    expect(authState()).toMatchObject({ needed: true, refused: true });
  });

  it("ignores a 401 to a token replaced while the request was under way", async () => {
    let answer: (r: Response) => void = () => {};
    fetchMock.mockReturnValueOnce(new Promise<Response>((resolve) => (answer = resolve)));
    const pending = getJson("/agents");
    setAuthToken("typed meanwhile", true);
    answer(refused());
    await expect(pending).rejects.toBeInstanceOf(ApiError);
    expect(authState().needed).toBe(false);
  });

  it("keeps an unremembered token for this tab only", () => {
    setAuthToken("remembered", true);
    setAuthToken("tab only", false);
    expect(window.localStorage.getItem("oracle.token")).toBeNull();
    expect(window.sessionStorage.getItem("oracle.token")).toBe("tab only");
    expect(authToken()).toBe("tab only");
  });

  it("does not ask for a token on other errors", async () => {
    fetchMock.mockResolvedValueOnce(new Response(JSON.stringify({ detail: "no snapshot yet" }), { status: 404 }));
    await expect(getJson("/snapshots/latest")).rejects.toEqual(new ApiError(404, "no snapshot yet"));
    expect(authState().needed).toBe(false);
  });
});
