// The one door to picd's REST API: same-origin fetch with the session cookie, the X-CSRF-Token header on
// every change, and the API's error envelope turned into ApiError (status, code, message, field).
export class ApiError extends Error {
  status: number;
  code: string;
  field: string | null;
  constructor(status: number, code: string, message: string, field: string | null) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

let csrfToken = "";
export function setCsrf(token: string) {
  csrfToken = token;
}

// Anything that learns the session is gone (401) tells the app once, which shows the sign-in page.
type Listener = () => void;
const unauthorized = new Set<Listener>();
export function onUnauthorized(l: Listener) {
  unauthorized.add(l);
  return () => {
    unauthorized.delete(l);
  };
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp: Response;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "network", "cannot reach the cell (is picd running?)", null);
  }
  const text = await resp.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!resp.ok) {
    const e = (data as { error?: { code?: string; message?: string; field?: string | null } } | null)?.error;
    const err = new ApiError(resp.status, e?.code ?? "http", e?.message ?? `HTTP ${resp.status}`, e?.field ?? null);
    if (resp.status === 401 && path !== "/api/auth/login") unauthorized.forEach((l) => l());
    throw err;
  }
  return data as T;
}

// A GET whose answer headers matter too (the peer config carries where to fetch the cell CA and its
// fingerprint in X-Pic-CA-URL / X-Pic-CA-Fingerprint).
export async function getWithHeaders(path: string): Promise<{ text: string; headers: Headers }> {
  let resp: Response;
  try {
    resp = await fetch(path, { headers: { Accept: "text/plain" }, credentials: "same-origin", cache: "no-store" });
  } catch {
    throw new ApiError(0, "network", "cannot reach the cell (is picd running?)", null);
  }
  const text = await resp.text();
  if (!resp.ok) {
    let e: { code?: string; message?: string; field?: string | null } | undefined;
    try {
      e = JSON.parse(text)?.error;
    } catch {
      e = undefined;
    }
    if (resp.status === 401) unauthorized.forEach((l) => l());
    throw new ApiError(resp.status, e?.code ?? "http", e?.message ?? `HTTP ${resp.status}`, e?.field ?? null);
  }
  return { text, headers: resp.headers };
}

export const get = <T,>(path: string) => api<T>("GET", path);
export const post = <T,>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});
export const put = <T,>(path: string, body: unknown) => api<T>("PUT", path, body);
export const del = <T,>(path: string) => api<T>("DELETE", path);

// Types of the answers the pages read (see api/openapi.yaml).
export interface Session {
  kind: string;
  name: string;
  scope: string;
  role?: "admin" | "user";
  csrf_token?: string;
  must_change_password?: boolean;
}
export interface Service {
  name: string;
  kind: string;
  state: string;
  healthy: boolean;
  problem: string | null;
  pid: number | null;
  uptime: number | null;
  started_at: number | null;
  restarts: number;
  memory: number | null;
  last_exit: string | number | null;
}
export interface Peer {
  name: string;
  ip: string;
  public_key: string;
  service_access: string[];
  enabled: boolean;
  route_all: boolean;
  description: string;
  created_at: number;
  updated_at: number;
  owner: string | null;
  warnings?: string[];
}
export interface User {
  name: string;
  role: "admin" | "user";
  created_at: number;
  password_changed_at: number;
  peers?: string[];
  app_passwords?: number;
  data?: string[];
}
export interface AppPassword {
  id: number;
  label: string;
  created_at: number;
  last_used_at: number;
}
export interface NewAppPassword {
  id: number;
  user: string;
  label: string;
  password: string;
  note: string;
}
export interface CaInfo {
  pem: string;
  fingerprint_sha256: string;
  serial: string;
  not_before: string;
  not_after: string;
  name_constraints: { critical: boolean; permitted_dns: string[]; permitted_ip: string[] };
  url?: string;
  leaves: { service: string; serial: string; dns: string[]; ip: string[]; not_before: string; not_after: string }[];
}
export interface LivePeer {
  name: string | null;
  public_key: string;
  endpoint: string | null;
  latest_handshake: number;
  rx_bytes: number;
  tx_bytes: number;
}
export interface Setting {
  key: string;
  type: "string" | "integer" | "boolean";
  default: string | number | boolean;
  needs_restart: boolean;
  description: string;
  module: string | null;
  min?: number;
  max?: number;
}
