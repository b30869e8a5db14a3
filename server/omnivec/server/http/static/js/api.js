// The HTTP API, with the bearer token (kept for this browser tab) when the server asks for one.

const TOKEN_KEY = "omnivec.token";
let onUnauthenticated = () => {};

export class ApiError extends Error {
  constructor(code, status, message) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export const token = () => sessionStorage.getItem(TOKEN_KEY);
export function whenUnauthenticated(handler) { onUnauthenticated = handler; }

function headers(extra = {}) {
  const t = token();
  return t ? { ...extra, authorization: `Bearer ${t}` } : extra;
}

async function request(method, path, body, isForm = false) {
  const init = { method, headers: headers(isForm || body === undefined ? {} : { "content-type": "application/json" }) };
  if (body !== undefined) init.body = isForm ? body : JSON.stringify(body);
  const response = await fetch(path, init);
  if (response.ok) return response.json();
  let error = { code: response.status, status: "UNKNOWN", message: response.statusText };
  try { error = (await response.json()).error || error; } catch { /* not JSON */ }
  if (response.status === 401) onUnauthenticated(error.message);
  throw new ApiError(error.code, error.status, error.message);
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body);
export const postForm = (path, form) => request("POST", path, form, true);
export const del = (path) => request("DELETE", path);
export const collectionPath = (name) => `/api/collections/${encodeURIComponent(name)}`;

// An <img>/<audio> src for an API URL. Media elements cannot send headers: with a token the
// bytes are fetched here and handed over as a blob URL (which still seeks).
const blobs = new Map();
export async function mediaSrc(url) {
  if (!token()) return url;
  if (!blobs.has(url)) {
    blobs.set(url, fetch(url, { headers: headers() }).then(async (r) => {
      if (!r.ok) throw new ApiError(r.status, "UNKNOWN", `${url}: ${r.status}`);
      return URL.createObjectURL(await r.blob());
    }));
  }
  return blobs.get(url);
}
