// A member's signed-in session, shared by the member console and the board: the API's token with its account and
// expiry, kept in this tab's sessionStorage (never in localStorage, so it ends with the tab), and `api()`, which
// calls the Ledger API with that token and turns the API's JSON errors ({"error": Name, "detail": {...}}) into
// `ApiError`s that a page can show by name. The key that signed in is never stored here.

const KEY = "ledger.session";

/** The session as saved: {token, address, expires_at (Unix seconds), ...}, or null when absent or expired. */
export function currentSession() {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
  } catch {
    saved = null;
  }
  if (!saved || !saved.token || !saved.expires_at || saved.expires_at * 1000 <= Date.now()) return null;
  return saved;
}

export function saveSession(session) {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function endSession() {
  sessionStorage.removeItem(KEY);
}

/** The console's sign-in page, coming back to `next` (a path on this site) once signed in. */
export function signInUrl(next = location.pathname + location.search) {
  return `/console?next=${encodeURIComponent(next)}`;
}

export class ApiError extends Error {
  constructor(status, error, detail) {
    super(detail && detail.message ? detail.message : `${error} (${status})`);
    this.status = status;
    this.error = error;
    this.detail = detail || {};
  }
}

/** Calls the API as the signed-in member; `body` is sent as JSON. Answers the decoded JSON body. */
export async function api(path, { method = "GET", body, headers = {}, session = currentSession() } = {}) {
  const sent = { ...headers };
  if (session) sent.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) sent["Content-Type"] = "application/json";
  const answer = await fetch(path, { method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await answer.text();
  let decoded = null;
  try {
    decoded = text ? JSON.parse(text) : null;
  } catch {
    decoded = { error: "NotJson", detail: { message: text.slice(0, 200) } };
  }
  if (!answer.ok) {
    if (answer.status === 401) endSession();
    throw new ApiError(answer.status, (decoded && decoded.error) || "HttpError", decoded && decoded.detail);
  }
  return decoded;
}
