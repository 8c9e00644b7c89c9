// The moderation API, same origin. The token lives in this tab's sessionStorage only:
// never a cookie, a URL or localStorage.

const KEY = "engagement-mod-token";

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  forget: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `The service answered ${status}.`);
    this.status = status;
    this.code = error.code || "error";
    this.fields = error.fields || null;
  }
}

let onUnauthorized = () => {};
/** What to do when the token stops working (revoked, or wrong). */
export function whenUnauthorized(handler) { onUnauthorized = handler; }

/** Call /api/v1/mod{path}; resolves with the JSON body (null for 204), rejects with ApiError. */
export async function call(method, path, { query, body } = {}) {
  const url = new URL(`/api/v1/mod${path}`, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json", Authorization: `Bearer ${token.get()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401) onUnauthorized(error);
    throw error;
  }
  return data;
}
