// Where a shift lives in the mesh home: state/shifts/<host>.json (plan, cursor, pending change, analyses,
// history), written atomically under the home's lock before and after every change of weights; and
// state/shifts/<host>.request.json, through which `route promote` and `route abort` ask the process
// that runs the shift to act.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readJson, writeJsonAtomic } from '../system/atomic-file.js';
import type { HomeLayout } from '../mesh/home.js';
import { withLock } from '../mesh/lock.js';
import { identify, isRunning } from '../system/processes.js';
import type { MeshTarget, ShiftRecordStore } from '../target/target.js';
import type { ShiftOwner, ShiftRecord } from './record.js';

export type RequestAction = 'promote' | 'promote-full' | 'abort';

export interface ControlRequest {
  id: string;
  action: RequestAction;
  /** Who asked: `meshctl route abort (pid 1234)`. */
  by: string;
  at: string;
  /**
   * The step the asker saw (promote): a shift that moved past it on its own meanwhile has done what
   * was asked, and does not move a second step.
   */
  cursor?: number;
}

export function shiftsDir(layout: HomeLayout): string {
  return path.join(layout.stateDir, 'shifts');
}

/** Host names are DNS names (letters, digits, dots, dashes): safe as file names. */
function fileName(host: string): string {
  if (!/^[a-z0-9.*-]+$/.test(host)) throw new Error(`Host ${host} cannot name a shift file.`);
  return host.replace(/\*/g, '_');
}

/** Where a shift's record and the requests to it are kept, whatever the mesh. */
export type ShiftRecords = ShiftRecordStore<ShiftRecord, ControlRequest>;

/** The record of the shift of `host` in `mesh`. */
export function shiftRecords(mesh: Pick<MeshTarget, 'shiftRecords'>, host: string): ShiftRecords {
  return mesh.shiftRecords<ShiftRecord, ControlRequest>(host);
}

/** A local mesh home's shift records: files beside the mesh state, under the home's lock. */
export class ShiftStore implements ShiftRecords {
  readonly file: string;
  readonly requestFile: string;

  constructor(readonly layout: HomeLayout, readonly host: string) {
    this.file = path.join(shiftsDir(layout), `${fileName(host)}.json`);
    this.requestFile = path.join(shiftsDir(layout), `${fileName(host)}.request.json`);
  }

  async read(): Promise<ShiftRecord | null> {
    return readJson<ShiftRecord | null>(this.file, null);
  }

  /** Atomic: a reader (or a meshctl killed mid-write) sees the previous record or this one, never a torn file. */
  async write(record: ShiftRecord): Promise<void> {
    record.updatedAt = new Date().toISOString();
    await fs.mkdir(shiftsDir(this.layout), { recursive: true, mode: 0o700 });
    await writeJsonAtomic(this.file, record, 0o600);
  }

  async remove(): Promise<void> {
    await fs.rm(this.file, { force: true });
  }

  /** Runs `fn` holding the home's lock (shared with apply and the agent, so weights never interleave). */
  locked<T>(fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
    return withLock(this.layout.lockFile, fn, timeoutMs);
  }

  async readRequest(): Promise<ControlRequest | null> {
    try {
      return JSON.parse(await fs.readFile(this.requestFile, 'utf8')) as ControlRequest;
    } catch {
      return null;
    }
  }

  async writeRequest(request: ControlRequest): Promise<void> {
    await fs.mkdir(shiftsDir(this.layout), { recursive: true, mode: 0o700 });
    await writeJsonAtomic(this.requestFile, request, 0o600);
  }

  async clearRequest(id?: string): Promise<void> {
    if (id !== undefined) {
      const current = await this.readRequest();
      if (current && current.id !== id) return;
    }
    await fs.rm(this.requestFile, { force: true });
  }
}

export function currentOwner(): ShiftOwner {
  return { ...identify(process.pid), since: new Date().toISOString() };
}

/** True when the process recorded as running the shift still runs. */
export function ownerAlive(owner: ShiftOwner | null): boolean {
  return owner !== null && isRunning({ pid: owner.pid, startTime: owner.startTime });
}

export function sameOwner(a: ShiftOwner | null, b: ShiftOwner | null): boolean {
  return a !== null && b !== null && a.pid === b.pid && a.startTime === b.startTime;
}

/** Every shift recorded in the home (apply checks them before it changes a route). */
export async function listShifts(layout: HomeLayout): Promise<ShiftRecord[]> {
  let names: string[];
  try {
    names = await fs.readdir(shiftsDir(layout));
  } catch {
    return [];
  }
  const out: ShiftRecord[] = [];
  for (const n of names) {
    if (!n.endsWith('.json') || n.endsWith('.request.json') || n.startsWith('.')) continue;
    const record = await readJson<ShiftRecord | null>(path.join(shiftsDir(layout), n), null).catch(() => null);
    if (record) out.push(record);
  }
  return out;
}
