// A port-forward to a pod through the API server, as `kubectl port-forward` gives one: a listener on
// 127.0.0.1 whose every connection is carried to the pod's port. It speaks the WebSocket protocol API
// servers and kubelets accept (subprotocol v4.channel.k8s.io): per forwarded port a data channel and an
// error channel, every message's first byte naming its channel, and the first message of each channel
// from the server carrying the port (2 bytes, little-endian) to confirm it. One WebSocket carries one
// connection, so each local connection opens its own. Node 20 has no WebSocket client: `ws` is loaded
// here only, when a command reads a pod's proxy on a cluster.
import net from 'node:net';
import tls from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import { EXIT, MeshctlError } from '../errors.js';
import { KubeApiError, resourceText, type ApiStatus, type KubeClient, type RequestAbout } from './client.js';

const SUBPROTOCOL = 'v4.channel.k8s.io';
const DATA_CHANNEL = 0;
const ERROR_CHANNEL = 1;
const DEFAULT_OPEN_TIMEOUT_MS = 10_000;

export interface PodRef {
  namespace: string;
  name: string;
}

/** What the API server checks a port-forward against: `create` (and, on newer releases, `get`) on pods/portforward. */
export function portForwardAbout(pod: PodRef): RequestAbout {
  return { verb: 'create', resource: 'pods/portforward', group: '', namespace: pod.namespace, name: pod.name };
}

/** The RBAC rule a port-forward needs. */
export const PORT_FORWARD_RULE = '{apiGroups: [""], resources: ["pods/portforward"], verbs: ["get", "create"]}';

/** One connection carried over one WebSocket; bytes that arrive before the local socket is attached wait. */
class Tunnel {
  private sink: net.Socket | null = null;
  private waiting: Buffer[] = [];
  private confirmed = new Set<number>();
  private onConfirmed: (() => void) | null = null;
  /** What the pod's side said on the error channel (the kubelet could not reach the port, say). */
  error: string | null = null;
  onError: ((text: string) => void) | null = null;

  constructor(readonly socket: WebSocket, private readonly port: number) {
    socket.on('message', (data: Buffer, isBinary: boolean) => this.receive(isBinary ? data : Buffer.from(data)));
    socket.on('close', () => this.sink?.end());
  }

  get ready(): boolean {
    return this.confirmed.size === 2;
  }

  whenConfirmed(fn: () => void): void {
    if (this.ready) fn();
    else this.onConfirmed = fn;
  }

  private receive(message: Buffer): void {
    if (message.length === 0) return;
    const channel = message[0]!;
    let payload = message.subarray(1);
    if (!this.confirmed.has(channel) && (channel === DATA_CHANNEL || channel === ERROR_CHANNEL)) {
      // The first message of a channel is the port it serves; anything after those 2 bytes is data.
      if (payload.length >= 2 && payload.readUInt16LE(0) === this.port) {
        this.confirmed.add(channel);
        payload = payload.subarray(2);
        if (this.ready) this.onConfirmed?.();
      }
    }
    if (!payload.length) return;
    if (channel === DATA_CHANNEL) {
      if (this.sink) this.sink.write(payload);
      else this.waiting.push(Buffer.from(payload));
    } else if (channel === ERROR_CHANNEL) {
      this.error = (this.error ?? '') + payload.toString('utf8');
      this.onError?.(this.error.trim());
      this.sink?.destroy();
      this.socket.close();
    }
  }

  attach(local: net.Socket): void {
    this.sink = local;
    for (const b of this.waiting) local.write(b);
    this.waiting = [];
    local.on('data', (d: Buffer) => {
      if (this.socket.readyState === this.socket.OPEN) this.socket.send(Buffer.concat([Buffer.from([DATA_CHANNEL]), d]));
    });
    local.on('close', () => this.socket.close());
    local.on('error', () => this.socket.terminate());
    this.socket.on('error', () => local.destroy());
  }
}

export class PortForward {
  private readonly server: net.Server;
  private readonly tunnels = new Set<Tunnel>();
  private readonly locals = new Set<net.Socket>();
  private spare: Tunnel | null;
  private closed = false;
  /** The last error the pod's side sent (on any connection), for the sentence of a failed read. */
  lastError: string | null = null;

  private constructor(
    private readonly open: () => Promise<Tunnel>,
    first: Tunnel,
    readonly pod: PodRef,
    readonly port: number,
  ) {
    this.spare = first;
    this.track(first);
    this.server = net.createServer((local) => void this.carry(local));
    // The listener alone never keeps meshctl running; its connections do, until the command closes the forward.
    this.server.unref();
  }

  /** The forward's local address, e.g. http://127.0.0.1:43117. */
  url = '';

  /**
   * Opens a forward to `port` of `pod`. The first WebSocket is opened here, so that a refusal (RBAC, no
   * such pod, nothing listening) is this call's error, one sentence, rather than a reset connection later.
   */
  static async open(client: KubeClient, pod: PodRef, port: number, options: { timeoutMs?: number } = {}): Promise<PortForward> {
    const { WebSocket } = await import('ws');
    const { agent, authorization, url } = await client.connection();
    const tlsOptions = agent.options;
    const path = `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}/portforward?ports=${port}`;
    const target = new URL(path, url.href.replace(/^http/, 'ws'));
    const timeoutMs = options.timeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    const where = `port ${port} of pod ${pod.namespace}/${pod.name}`;

    const openTunnel = () =>
      new Promise<Tunnel>((resolve, reject) => {
        const started = Date.now();
        const socket = new WebSocket(target, [SUBPROTOCOL], {
          headers: { ...(authorization ? { authorization } : {}), 'user-agent': 'meshctl' },
          handshakeTimeout: timeoutMs,
          perMessageDeflate: false,
          createConnection: (o: tls.ConnectionOptions & net.NetConnectOpts) => {
            return url.protocol === 'https:'
              ? tls.connect({ ...o, ca: tlsOptions.ca, cert: tlsOptions.cert, key: tlsOptions.key, rejectUnauthorized: tlsOptions.rejectUnauthorized, servername: tlsOptions.servername ?? (net.isIP(o.host ?? '') ? undefined : o.host) })
              : net.connect(o);
          },
        } as unknown as WebSocket.ClientOptions);
        const tunnel = new Tunnel(socket, port);
        let settled = false;
        const fail = (err: MeshctlError) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          socket.terminate();
          reject(err);
        };
        const timer = setTimeout(() => fail(new MeshctlError(`${capital(client.where)} did not open a port-forward to ${where} within ${Math.round(timeoutMs / 1000)} s; check that the pod runs and that the API server can reach its node.`, EXIT.environment)), timeoutMs);
        socket.on('upgrade', () => client.sent.push({ method: 'GET', path, status: 101, ms: Date.now() - started }));
        socket.on('unexpected-response', (_req, res: IncomingMessage) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => {
            client.sent.push({ method: 'GET', path, status: res.statusCode ?? 0, ms: Date.now() - started });
            fail(refusal(client, pod, res.statusCode ?? 0, text));
          });
        });
        socket.on('error', (err: NodeJS.ErrnoException) => {
          const code = err.code ?? '';
          if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) fail(new MeshctlError(`The server of ${client.where} presented a certificate meshctl does not trust (${err.message}); check certificate-authority in the kubeconfig.`, EXIT.environment));
          else fail(new MeshctlError(`${capital(client.where)} is unreachable for a port-forward to ${where} (${code || err.message}); check the context and that its API server is up.`, EXIT.environment));
        });
        socket.on('close', (code: number, reason: Buffer) => {
          if (tunnel.error) fail(new MeshctlError(`The port-forward to ${where} on ${client.where} failed: ${tunnel.error.trim()}; check that the pod's istio-proxy container runs.`, EXIT.environment));
          else fail(new MeshctlError(`${capital(client.where)} closed the port-forward to ${where} before confirming it (WebSocket close ${code}${reason.length ? `: ${reason.toString('utf8')}` : ''}).`, EXIT.environment));
        });
        socket.on('open', () => {
          if (socket.protocol !== SUBPROTOCOL) fail(new MeshctlError(`${capital(client.where)} answered the port-forward to ${where} with the subprotocol "${socket.protocol}", not ${SUBPROTOCOL}; meshctl cannot read it.`, EXIT.environment));
        });
        tunnel.whenConfirmed(() => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(tunnel);
        });
      });

    const first = await openTunnel();
    const forward = new PortForward(openTunnel, first, pod, port);
    await new Promise<void>((resolve, reject) => {
      forward.server.once('error', reject);
      forward.server.listen(0, '127.0.0.1', () => resolve());
    });
    forward.url = `http://127.0.0.1:${(forward.server.address() as net.AddressInfo).port}`;
    return forward;
  }

  private track(t: Tunnel): void {
    this.tunnels.add(t);
    t.onError = (text) => (this.lastError = text);
    t.socket.on('close', () => this.tunnels.delete(t));
  }

  private async carry(local: net.Socket): Promise<void> {
    this.locals.add(local);
    local.on('close', () => this.locals.delete(local));
    if (this.closed) return void local.destroy();
    let tunnel = this.spare;
    this.spare = null;
    if (!tunnel || tunnel.socket.readyState !== tunnel.socket.OPEN) {
      try {
        tunnel = await this.open();
      } catch (err) {
        this.lastError = (err as Error).message;
        local.destroy();
        return;
      }
      if (this.closed) {
        tunnel.socket.terminate();
        return void local.destroy();
      }
      this.track(tunnel);
    }
    tunnel.attach(local);
  }

  /** Closes the listener and every connection it carries. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.tunnels) t.socket.terminate();
    this.tunnels.clear();
    // The listener's close waits for its connections: end them rather than wait for the client to.
    for (const l of this.locals) l.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The sentence for an API server that refused the upgrade (403 names the verbs and the rule). */
function refusal(client: KubeClient, pod: PodRef, code: number, body: string): KubeApiError {
  let status: ApiStatus;
  try {
    status = JSON.parse(body) as ApiStatus;
  } catch {
    status = { message: body.trim().slice(0, 200) || undefined, code };
  }
  const about = portForwardAbout(pod);
  const what = `create ${resourceText(about)} on pod "${pod.name}" in namespace "${pod.namespace}"`;
  const where = capital(client.where);
  const message =
    code === 401
      ? `${where} does not accept the credentials of user "${client.access.user}" (${status.message ?? 'Unauthorized'}); log in again or refresh the kubeconfig.`
      : code === 403
        ? `${where} forbids ${what} (${status.message ?? 'Forbidden'}); grant the rule ${PORT_FORWARD_RULE} (meshctl install --target kubernetes --print-rbac prints them all).`
        : code === 404
          ? `${where} has no pod "${pod.name}" in namespace "${pod.namespace}" to port-forward to.`
          : `${where} answered ${code} to a port-forward (${what}): ${status.message ?? status.reason ?? 'no message'}.`;
  return new KubeApiError(code, status, about, message);
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
