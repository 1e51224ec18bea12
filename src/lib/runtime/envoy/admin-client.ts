// A small client for Envoy's admin API (GET only, built-in fetch). Every failure is one sentence that
// names the address and the endpoint: unreachable or silent proxies are environment errors (exit 3).
import { EXIT, MeshctlError, environmentError, usageError } from '../../errors.js';
import { formatDuration } from '../../policy/duration.js';

/** Istio's sidecar admin port, on loopback (reach a pod's with `kubectl port-forward POD 15000`). */
export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:15000';
export const DEFAULT_TIMEOUT_MS = 5000;

export interface AdminClientOptions {
  timeoutMs?: number;
}

export interface AdminResponse {
  status: number;
  body: string;
}

/** An admin endpoint answered with an HTTP status other than the ones the caller accepts. */
export class AdminHttpError extends MeshctlError {
  readonly status: number;
  readonly endpoint: string;
  constructor(message: string, status: number, endpoint: string) {
    super(message, EXIT.environment);
    this.name = 'AdminHttpError';
    this.status = status;
    this.endpoint = endpoint;
  }
}

export class EnvoyAdminClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string = DEFAULT_ADMIN_URL, options: AdminClientOptions = {}) {
    this.baseUrl = normalizeBaseUrl(baseUrl);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** GET `path` (e.g. "/clusters?format=json"); resolves for the statuses in `accept` (200 by default). */
  async get(path: string, accept: readonly number[] = [200]): Promise<AdminResponse> {
    const url = this.baseUrl + path;
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs), redirect: 'manual' });
    } catch (err) {
      throw this.transportError(err, path, false);
    }
    let body: string;
    try {
      body = await response.text();
    } catch (err) {
      throw this.transportError(err, path, true);
    }
    if (!accept.includes(response.status)) {
      const first = body.trim().split('\n')[0]?.slice(0, 120) ?? '';
      throw new AdminHttpError(
        `The Envoy admin API at ${this.baseUrl} answered ${path} with HTTP ${response.status}${first ? ` ("${first}")` : ''}; check that ${this.baseUrl} is an Envoy admin address.`,
        response.status,
        path,
      );
    }
    return { status: response.status, body };
  }

  async text(path: string): Promise<string> {
    return (await this.get(path)).body;
  }

  /** GET and parse JSON; a truncated or non-JSON body is a sentence naming the endpoint. */
  async json(path: string): Promise<unknown> {
    const body = await this.text(path);
    return parseAdminJson(body, `${this.baseUrl}${path}`);
  }

  private transportError(err: unknown, path: string, duringBody: boolean): MeshctlError {
    const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
      return environmentError(
        `The Envoy admin API at ${this.baseUrl} did not answer ${path} within ${formatDuration(this.timeoutMs)}; check that the proxy is running and the address is right.`,
      );
    }
    const code = e?.cause?.code ?? '';
    if (duringBody) {
      return environmentError(
        `The Envoy admin API at ${this.baseUrl} cut its answer to ${path} short (${code || e?.message || 'connection closed'}); try again, or check the proxy's logs.`,
      );
    }
    const why =
      code === 'ECONNREFUSED'
        ? 'connection refused'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'host not found'
          : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET'
            ? 'connection reset'
            : code || e?.cause?.message || e?.message || 'unknown error';
    return environmentError(
      `Cannot reach the Envoy admin API at ${this.baseUrl} (${why}); check --admin-url, or forward a pod's admin port with \`kubectl port-forward POD 15000\`.`,
    );
  }
}

/** Parses an admin response body as JSON, naming `endpoint` when it is truncated or not JSON. */
export function parseAdminJson(body: string, endpoint: string): unknown {
  try {
    return JSON.parse(body);
  } catch (err) {
    const trimmed = body.trim();
    const what = trimmed === '' ? 'an empty body' : /^[[{]/.test(trimmed) ? 'truncated JSON' : 'something other than JSON';
    const detail = err instanceof Error ? err.message : String(err);
    throw environmentError(`The Envoy admin endpoint ${endpoint} returned ${what} (${detail}); read it again, or check that it is an Envoy admin API.`);
  }
}

function normalizeBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw usageError(`--admin-url "${raw}" is not a URL; give one like ${DEFAULT_ADMIN_URL}.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`--admin-url "${raw}" must be an http:// or https:// URL, like ${DEFAULT_ADMIN_URL}.`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}


