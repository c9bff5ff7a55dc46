// The public REST API under /api/v1: the session's tokens, refreshed before they expire.
const SESSION_KEY = "mll.session";
const REFRESH_SHARE = 2 / 3; // refresh once this share of an access token's life has passed
const listeners = new Set();
let refreshing = null;
let refreshTimer = null;

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.message) || `Request failed (${status})`);
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

export function session() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}

export function onSessionChange(callback) {
  listeners.add(callback);
  return () => listeners.delete(callback);
}

function claims(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(part));
}

function store(value) {
  if (value) localStorage.setItem(SESSION_KEY, JSON.stringify(value));
  else localStorage.removeItem(SESSION_KEY);
  scheduleRefresh();
  for (const callback of listeners) callback(value);
}

export function saveTokens(body) {
  const { exp, iat } = claims(body.access_token);
  const previous = session();
  store({
    access_token: body.access_token,
    refresh_token: body.refresh_token,
    issued_at: iat * 1000,
    expires_at: exp * 1000,
    user: body.user || (previous && previous.user) || null,
  });
}

export function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const current = session();
  if (!current) return;
  const lifetime = current.expires_at - current.issued_at;
  const due = current.issued_at + lifetime * REFRESH_SHARE - Date.now();
  refreshTimer = setTimeout(() => refresh().catch(() => {}), Math.max(due, 0));
}

// One refresh at a time, across tabs too: a refresh token works once, and presenting a
// spent one revokes the whole session.
export function refresh() {
  if (!refreshing) {
    const seen = session();
    const run = async () => {
      const current = session();
      if (!current) throw new ApiError(401, { message: "Logged out." });
      if (seen && current.access_token !== seen.access_token) return current; // another tab did it
      const response = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: current.refresh_token }),
      });
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        if (response.status === 401) store(null);
        throw new ApiError(response.status, body);
      }
      saveTokens(body);
      return session();
    };
    const locked = navigator.locks ? navigator.locks.request("mll.refresh", run) : run();
    refreshing = locked.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function validToken() {
  const current = session();
  if (!current) return null;
  if (Date.now() >= current.expires_at - 2000) return (await refresh()).access_token;
  return current.access_token;
}

// fetch() of an /api/v1 path with the bearer token; the JSON body, or ApiError.
export async function api(path, { method = "GET", body, query, headers = {} } = {}) {
  let url = `/api/v1${path}`;
  if (query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(name, value);
    }
    if ([...params].length) url += `?${params}`;
  }
  for (let attempt = 0; ; attempt++) {
    const token = await validToken();
    const init = { method, headers: { ...headers } };
    if (token) init.headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    if (response.status === 401 && token && attempt === 0) {
      await refresh(); // expired early (clock skew) or revoked: one fresh try
      continue;
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      const retryAfter = Number(response.headers.get("Retry-After")) || null;
      throw new ApiError(response.status, data, retryAfter);
    }
    return data;
  }
}

export async function login(loginName, password) {
  const body = await api("/auth/login", { method: "POST", body: { login: loginName, password } });
  saveTokens(body);
  return body;
}

export async function register(username, email, password) {
  const body = await api("/auth/register", {
    method: "POST",
    body: { username, email, password },
  });
  saveTokens(body);
  return body;
}

export async function logout() {
  const current = session();
  store(null);
  if (current) {
    await fetch("/api/v1/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: current.refresh_token }),
    }).catch(() => {});
  }
}

export function currentUser() {
  const current = session();
  return current ? current.user : null;
}

export function updateUser(user) {
  const current = session();
  if (current) store({ ...current, user });
}

window.addEventListener("storage", (event) => {
  if (event.key === SESSION_KEY) {
    scheduleRefresh();
    for (const callback of listeners) callback(session());
  }
});
scheduleRefresh();
