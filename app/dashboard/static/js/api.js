// The /v1 client: the key lives in sessionStorage (this tab only) and travels only in the X-API-Key header,
// never in a URL, so it reaches no log, history entry or Referer.

const STORE = "semrec.apiKey";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export const key = {
  get: () => sessionStorage.getItem(STORE),
  set: (value) => sessionStorage.setItem(STORE, value),
  clear: () => sessionStorage.removeItem(STORE),
};

let role = null;
export const canWrite = () => role === "write";

async function call(method, path, body) {
  const headers = { "X-API-Key": key.get() || "" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/v1${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const detail = data && data.detail ? (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail))
      : response.statusText;
    throw new ApiError(response.status, detail);
  }
  return data;
}

export const api = {
  get: (path) => call("GET", path),
  post: (path, body = {}) => call("POST", path, body),
  put: (path, body) => call("PUT", path, body),
  delete: (path) => call("DELETE", path),
};

// Checks a key against the service and remembers its role; a wrong key throws an ApiError (401).
export async function signIn(value) {
  key.set(value);
  try {
    role = (await api.get("/key")).role;
    return role;
  } catch (error) {
    key.clear();
    role = null;
    throw error;
  }
}

export async function resume() {
  if (!key.get()) return null;
  return signIn(key.get()).catch(() => null);
}

export function signOut() {
  key.clear();
  role = null;
}

export const path = (template, ...ids) => template.replace(/\{\}/g, () => encodeURIComponent(ids.shift()));
