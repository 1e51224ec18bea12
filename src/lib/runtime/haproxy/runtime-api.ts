// HAProxy's runtime API (the stats socket, level admin), over its UNIX socket.
import net from 'node:net';

export class RuntimeApiError extends Error {
  override name = 'RuntimeApiError';
}

/** Sends one command line (several commands may be joined with `;`) and returns everything HAProxy answers. */
export function socketCommand(socket: string, command: string, options: { timeoutMs?: number; payload?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socket);
    let out = '';
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(out);
    };
    const timer = setTimeout(() => finish(new RuntimeApiError(`No answer from ${socket} to "${command.split('\n')[0]}" within ${options.timeoutMs ?? 5000} ms.`)), options.timeoutMs ?? 5000);
    conn.setEncoding('utf8');
    conn.on('connect', () => {
      // Half-closing tells the stats socket that no command follows.
      conn.end(options.payload !== undefined ? `${command} <<\n${options.payload.replace(/\n+$/, '')}\n\n` : `${command}\n`);
    });
    conn.on('data', (d: string) => { out += d; });
    conn.on('end', () => finish(null));
    conn.on('close', () => finish(null));
    conn.on('error', (err: NodeJS.ErrnoException) => {
      finish(new RuntimeApiError(`Cannot talk to ${socket} (${err.code ?? err.message}); is the proxy running?`));
    });
  });
}

export interface StatRow {
  proxy: string;
  /** FRONTEND, BACKEND, or the server's name. */
  name: string;
  type: 'frontend' | 'backend' | 'server' | 'listener';
  fields: Record<string, string>;
}

/** A numeric field of a stat row (0 when empty). */
export function statNumber(row: StatRow, field: string): number {
  const v = row.fields[field];
  return v === undefined || v === '' ? 0 : Number(v);
}

/** Parses `show stat` CSV output. */
export function parseShowStat(text: string): StatRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const headerLine = lines.find((l) => l.startsWith('# '));
  if (!headerLine) return [];
  const header = headerLine.slice(2).split(',');
  const types = ['frontend', 'backend', 'server', 'listener'] as const;
  return lines.filter((l) => !l.startsWith('#')).map((l) => {
    const cells = l.split(',');
    const fields: Record<string, string> = {};
    header.forEach((h, i) => { if (h) fields[h] = cells[i] ?? ''; });
    return { proxy: fields.pxname, name: fields.svname, type: types[Number(fields.type)] ?? 'server', fields };
  });
}

/** Parses `key: value` lines (`show info`). */
export function parseShowInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of text.split('\n')) {
    const i = l.indexOf(':');
    if (i > 0) out[l.slice(0, i).trim()] = l.slice(i + 1).trim();
  }
  return out;
}

export interface ServerState {
  backend: string;
  server: string;
  address: string;
  port: number;
  /** 0 stopped, 1 starting, 2 running, 3 stopping. */
  operationalState: number;
  /** Bit field: 0x01 forced maintenance, 0x08 forced drain… */
  adminState: number;
  weight: number;
  initialWeight: number;
  fields: Record<string, string>;
}

/** Parses `show servers state` (format version 1). */
export function parseServersState(text: string): ServerState[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const headerLine = lines.find((l) => l.startsWith('# '));
  if (!headerLine) return [];
  const header = headerLine.slice(2).trim().split(/\s+/);
  return lines.filter((l) => !l.startsWith('#') && /\s/.test(l.trim())).map((l) => {
    const cells = l.trim().split(/\s+/);
    const fields: Record<string, string> = {};
    header.forEach((h, i) => { fields[h] = cells[i] ?? ''; });
    return {
      backend: fields.be_name,
      server: fields.srv_name,
      address: fields.srv_addr,
      port: Number(fields.srv_port),
      operationalState: Number(fields.srv_op_state),
      adminState: Number(fields.srv_admin_state),
      weight: Number(fields.srv_uweight),
      initialWeight: Number(fields.srv_iweight),
      fields,
    };
  });
}

export interface MeshState {
  revision: number;
  /** Route id → backend → weight (in destination order). */
  routes: Map<string, { backend: string; weight: number }[]>;
}

/** Parses the `mesh show` command of meshctl's Lua program. */
export function parseMeshShow(text: string): MeshState {
  const state: MeshState = { revision: -1, routes: new Map() };
  for (const l of text.split('\n')) {
    const parts = l.trim().split(/\s+/);
    if (parts[0] === 'revision') state.revision = Number(parts[1]);
    if (parts[0] === 'route' && parts[1]) {
      state.routes.set(parts[1], parts.slice(2).map((p) => {
        const eq = p.lastIndexOf('=');
        return { backend: p.slice(0, eq), weight: Number(p.slice(eq + 1)) };
      }));
    }
  }
  return state;
}

/** Mirrored copies of one proxy since it started (`mesh mirrors`). */
export interface MirrorStats {
  /** Copies being sent now. */
  active: number;
  /** Copies at once beyond which new ones are dropped. */
  limit: number;
  /** Copies delivered to the mirror listener and answered. */
  sent: number;
  /** Copies that could not be delivered or got no answer. */
  failed: number;
  /** Copies not made because `limit` were in flight. */
  dropped: number;
  /** Copies not made because the request's body was too large or incomplete. */
  skipped: number;
}

/** Parses the `mesh mirrors` command of meshctl's Lua program. */
export function parseMeshMirrors(text: string): MirrorStats {
  const parts = text.trim().split(/\s+/);
  const field = (name: string) => {
    const i = parts.indexOf(name);
    return i >= 0 ? Number(parts[i + 1]) : NaN;
  };
  return { active: field('active'), limit: field('limit'), sent: field('sent'), failed: field('failed'), dropped: field('dropped'), skipped: field('skipped') };
}

const ERROR_PATTERN = /^(Unknown command|No such|Require|Invalid|error|Can't|Cannot|Permission denied|Missing|'[^']*' only|.*not found)/im;

/** A proxy's runtime API (stats socket, level admin). */
export class RuntimeApi {
  constructor(readonly socket: string, readonly timeoutMs = 5000) {}

  /** Raw command; throws on HAProxy's error answers. */
  async command(command: string, payload?: string): Promise<string> {
    const out = await socketCommand(this.socket, command, { timeoutMs: this.timeoutMs, payload });
    if (ERROR_PATTERN.test(out.trim())) throw new RuntimeApiError(`${command.split(' ').slice(0, 3).join(' ')}: ${out.trim().split('\n')[0]}`);
    return out;
  }

  async showInfo(): Promise<Record<string, string>> {
    return parseShowInfo(await this.command('show info'));
  }

  async showStat(): Promise<StatRow[]> {
    return parseShowStat(await this.command('show stat'));
  }

  async showServersState(backend?: string): Promise<ServerState[]> {
    return parseServersState(await this.command(backend ? `show servers state ${backend}` : 'show servers state'));
  }

  /** `set server <backend>/<server> weight <n>` (0–256), effective at once, no reload. */
  async setServerWeight(backend: string, server: string, weight: number): Promise<void> {
    if (!Number.isInteger(weight) || weight < 0 || weight > 256) throw new RuntimeApiError(`Server weight ${weight} is outside 0–256.`);
    await this.command(`set server ${backend}/${server} weight ${weight}`);
  }

  async getServerWeight(backend: string, server: string): Promise<{ current: number; initial: number }> {
    const out = await this.command(`get weight ${backend}/${server}`);
    const m = /(\d+)\s*\(initial\s*(\d+)\)/.exec(out);
    if (!m) throw new RuntimeApiError(`Unexpected answer to get weight ${backend}/${server}: ${out.trim()}`);
    return { current: Number(m[1]), initial: Number(m[2]) };
  }

  /** `set server <b>/<s> state ready|drain|maint`. */
  async setServerState(backend: string, server: string, state: 'ready' | 'drain' | 'maint'): Promise<void> {
    await this.command(`set server ${backend}/${server} state ${state}`);
  }

  /** The revision and route weights the proxy serves now. */
  async meshState(): Promise<MeshState> {
    return parseMeshShow(await this.command('mesh show'));
  }

  /** Mirrored copies of requests since the proxy started. */
  async mirrorStats(): Promise<MirrorStats> {
    return parseMeshMirrors(await this.command('mesh mirrors'));
  }

  /**
   * Sets route weights and then the revision, in one connection and that order, so that a proxy
   * reporting `revision` already serves every weight of it.
   */
  async setRouteWeights(routes: { id: string; weights: number[] }[], revision?: number): Promise<void> {
    await this.updateRoutes([], routes, revision);
  }

  /**
   * Sends route map changes (`set map` / `add map` / `del map`, route-state.ts), then route weights,
   * then the revision last, so that a proxy reporting `revision` already serves every value of it.
   */
  async updateRoutes(mapCommands: string[], routes: { id: string; weights: number[] }[], revision?: number): Promise<void> {
    const commands = [...mapCommands, ...routes.map((r) => {
      if (!/^[A-Za-z0-9_.:-]+$/.test(r.id)) throw new RuntimeApiError(`Route id ${r.id} cannot be sent to the runtime API.`);
      if (r.weights.some((w) => !Number.isInteger(w) || w < 0)) throw new RuntimeApiError(`Route ${r.id}: weights must be non-negative integers.`);
      return `mesh weights ${r.id} ${r.weights.join(',')}`;
    })];
    if (revision !== undefined) commands.push(`mesh revision ${Math.floor(revision)}`);
    // The CLI reads one line of at most a buffer's size: send batches, in order.
    for (let i = 0; i < commands.length; i += 40) {
      const batch = commands.slice(i, i + 40);
      const out = await socketCommand(this.socket, batch.join('; '), { timeoutMs: this.timeoutMs });
      const meshCommands = batch.filter((c) => c.startsWith('mesh ')).length;
      const oks = out.split('\n').filter((l) => l.trim() === 'ok').length;
      const refused = out.split('\n').find((l) => ERROR_PATTERN.test(l.trim()));
      if (refused !== undefined || oks !== meshCommands) throw new RuntimeApiError(`The proxy refused a route update: ${refused ?? out.trim()}`);
    }
  }

  /** Replaces a loaded certificate (e.g. a renewed workload certificate) without a reload. */
  async updateCertificate(file: string, pem: string): Promise<void> {
    const set = await socketCommand(this.socket, `set ssl cert ${file}`, { timeoutMs: this.timeoutMs, payload: pem });
    if (!/Transaction (created|updated)/i.test(set)) throw new RuntimeApiError(`set ssl cert ${file}: ${set.trim()}`);
    const commit = await socketCommand(this.socket, `commit ssl cert ${file}`, { timeoutMs: this.timeoutMs });
    if (!/Success!/i.test(commit)) {
      await socketCommand(this.socket, `abort ssl cert ${file}`, { timeoutMs: this.timeoutMs }).catch(() => undefined);
      throw new RuntimeApiError(`commit ssl cert ${file}: ${commit.trim()}`);
    }
  }
}
