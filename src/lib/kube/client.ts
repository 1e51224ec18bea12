// A small Kubernetes API client over node:https: one authenticated agent per process (keep-alive, the
// exec plugin run once), JSON in and out, and the API's Status objects turned into one sentence that
// names the context, the verb and the resource (exit 3) — never a stack trace.
import https from 'node:https';
import { EXIT, MeshctlError } from '../errors.js';
import { loadClusterAccess, runExecPlugin, type ClusterAccess, type KubeconfigFlags } from './kubeconfig.js';

export interface ApiStatus {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; group?: string; kind?: string; causes?: { reason?: string; message?: string; field?: string }[] };
}

/** What a request was about, for the sentence of its error. */
export interface RequestAbout {
  verb: string;
  /** plural, or plural/subresource */
  resource: string;
  group: string;
  namespace?: string;
  name?: string;
}

/** A non-2xx answer of the API server, with its Status. */
export class KubeApiError extends MeshctlError {
  override name = 'KubeApiError';
  constructor(readonly statusCode: number, readonly status: ApiStatus, readonly about: RequestAbout | undefined, message: string) {
    super(message, EXIT.environment);
  }
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  accept?: string;
  timeoutMs?: number;
  about?: RequestAbout;
  /** Return the body as text (a proxied answer) instead of parsing JSON. */
  text?: boolean;
}

/** One logged request, for --dry-run and tests. */
export interface SentRequest {
  method: string;
  path: string;
  status: number;
  ms: number;
}

export function resourcePath(r: { group: string; version: string; plural: string; namespace?: string; name?: string; subresource?: string }): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return `${base}${r.namespace ? `/namespaces/${encodeURIComponent(r.namespace)}` : ''}/${r.plural}${r.name ? `/${encodeURIComponent(r.name)}` : ''}${r.subresource ? `/${r.subresource}` : ''}`;
}

export function resourceText(about: RequestAbout): string {
  return about.group ? `${about.resource}.${about.group}` : about.resource;
}

/** The RBAC rule that grants what `about` asks. */
export function ruleFor(about: RequestAbout): string {
  return `{apiGroups: ["${about.group}"], resources: ["${about.resource}"], verbs: ["${about.verb}"]}`;
}

export class KubeClient {
  readonly access: ClusterAccess;
  readonly sent: SentRequest[] = [];
  private agent: https.Agent | null = null;
  private authorization: string | undefined;
  private ready: Promise<void> | null = null;

  constructor(access: ClusterAccess) {
    this.access = access;
  }

  static fromFlags(flags: KubeconfigFlags): KubeClient {
    return new KubeClient(loadClusterAccess(flags));
  }

  /** `the cluster of context "prod"` (every error names it). */
  get where(): string {
    return `the cluster of context "${this.access.context}" (${this.access.server})`;
  }

  private async prepare(): Promise<void> {
    const a = this.access;
    if (!a.server.startsWith('https://')) {
      if (!a.server.startsWith('http://')) throw new MeshctlError(`The server ${a.server} of context "${a.context}" is not an http(s) URL; fix the kubeconfig.`, EXIT.environment);
    }
    let cert = a.clientCert;
    let key = a.clientKey;
    let token = a.token;
    if (a.exec) {
      const cred = await runExecPlugin(a);
      token = cred.token ?? token;
      cert = cred.clientCert ?? cert;
      key = cred.clientKey ?? key;
    }
    if (token) this.authorization = `Bearer ${token}`;
    else if (a.basic) this.authorization = `Basic ${Buffer.from(`${a.basic.username}:${a.basic.password}`).toString('base64')}`;
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 16, ca: a.ca, cert, key, rejectUnauthorized: !a.insecure, servername: a.tlsServerName });
  }

  private init(): Promise<void> {
    this.ready ??= this.prepare();
    return this.ready;
  }

  /** The agent and headers a streaming request (port-forward) needs. */
  async connection(): Promise<{ agent: https.Agent; authorization: string | undefined; url: URL }> {
    await this.init();
    return { agent: this.agent!, authorization: this.authorization, url: new URL(this.access.server) };
  }

  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    await this.init();
    const url = new URL(this.access.server + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    const started = Date.now();
    const headers: Record<string, string> = { accept: options.accept ?? 'application/json', 'user-agent': 'meshctl' };
    if (this.authorization) headers.authorization = this.authorization;
    if (body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = https.request(url, { method, agent: this.agent!, headers, timeout: options.timeoutMs ?? 30_000 }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer in ${Math.round((options.timeoutMs ?? 30_000) / 1000)} s`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(body);
    }).catch((err: NodeJS.ErrnoException) => {
      throw this.unreachable(err);
    });
    this.sent.push({ method, path: url.pathname + url.search, status: answer.status, ms: Date.now() - started });
    if (answer.status >= 200 && answer.status < 300) {
      if (options.text) return answer.text as T;
      return (answer.text ? JSON.parse(answer.text) : undefined) as T;
    }
    let status: ApiStatus = {};
    try {
      status = JSON.parse(answer.text) as ApiStatus;
    } catch {
      status = { message: answer.text.trim().slice(0, 200), code: answer.status };
    }
    throw new KubeApiError(answer.status, status, options.about, this.sentence(answer.status, status, options.about, method, path));
  }

  private unreachable(err: NodeJS.ErrnoException): MeshctlError {
    const code = err.code ?? '';
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
      return new MeshctlError(`The server of ${this.where} presented a certificate meshctl does not trust (${err.message}); check certificate-authority in the kubeconfig.`, EXIT.environment);
    }
    return new MeshctlError(`${capital(this.where)} is unreachable (${code || err.message}); check the context and that its API server is up.`, EXIT.environment);
  }

  private sentence(code: number, status: ApiStatus, about: RequestAbout | undefined, method: string, path: string): string {
    const what = about ? `${about.verb} ${resourceText(about)}${about.name ? ` "${about.name}"` : ''}${about.namespace ? ` in namespace "${about.namespace}"` : ''}` : `${method} ${path}`;
    if (code === 401) return `${capital(this.where)} does not accept the credentials of user "${this.access.user}" (${status.message ?? 'Unauthorized'}); log in again or refresh the kubeconfig.`;
    if (code === 403 && about) return `${capital(this.where)} forbids ${what} (${status.message ?? 'Forbidden'}); grant the rule ${ruleFor(about)} (meshctl install --target kubernetes --print-rbac prints them all).`;
    if (code === 404 && about) return `${capital(this.where)} has no ${what.replace(/^\w+ /, '')}.`;
    return `${capital(this.where)} answered ${code} to ${what}: ${status.message ?? status.reason ?? 'no message'}.`;
  }

  close(): void {
    this.agent?.destroy();
  }
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
