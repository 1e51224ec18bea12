// Reading Envoy's protobuf JSON by hand: fields arrive in snake_case or lowerCamelCase (both are valid
// protobuf JSON and real captures mix them), 64-bit integers arrive as strings, and zero values are omitted.

export type Json = Record<string, unknown>;

function camel(snake: string): string {
  return snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The field `snake` of `o` under either casing; undefined when absent or when `o` is not an object. */
export function field(o: unknown, snake: string): unknown {
  if (!o || typeof o !== 'object' || Array.isArray(o)) return undefined;
  const rec = o as Json;
  if (snake in rec) return rec[snake];
  const c = camel(snake);
  return c in rec ? rec[c] : undefined;
}

/** Follows a path of snake_case field names. */
export function path(o: unknown, ...names: string[]): unknown {
  let cur = o;
  for (const n of names) cur = field(cur, n);
  return cur;
}

export function asObject(v: unknown): Json | null {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
}

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function asString(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** A number, or a protobuf 64-bit integer written as a string; null otherwise. */
export function asNumber(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

/** A protobuf UInt32Value may be written as a bare number or as {"value": n}. */
export function asWrappedNumber(v: unknown): number | null {
  const n = asNumber(v);
  if (n !== null) return n;
  return asNumber(field(v, 'value'));
}

/** Envoy's core.v3.Address as text: "ip:port", a pipe path, or "envoy://listener/endpoint-id". */
export function describeAddress(address: unknown): { address: string; port: number | null } {
  const socket = field(address, 'socket_address');
  if (socket) {
    const port = asNumber(field(socket, 'port_value'));
    return { address: asString(field(socket, 'address')) ?? '', port };
  }
  const pipe = field(address, 'pipe');
  if (pipe) return { address: asString(field(pipe, 'path')) ?? '', port: null };
  const internal = field(address, 'envoy_internal_address');
  if (internal) {
    const listener = asString(field(internal, 'server_listener_name'));
    if (listener !== null) return { address: `envoy://${listener}/${asString(field(internal, 'endpoint_id')) ?? ''}`, port: null };
  }
  return { address: 'unknown', port: null };
}

/** "region/zone/subzone", stopping at the first empty part, as Istio prints localities. */
export function describeLocality(locality: unknown): string {
  const region = asString(field(locality, 'region')) ?? '';
  const zone = asString(field(locality, 'zone')) ?? '';
  const subzone = asString(field(locality, 'sub_zone')) ?? '';
  if (!zone) return region;
  if (!subzone) return `${region}/${zone}`;
  return `${region}/${zone}/${subzone}`;
}

/** The last segment of a type URL: "type.googleapis.com/envoy.admin.v3.ClustersConfigDump" → "ClustersConfigDump". */
export function typeName(o: unknown): string {
  const t = asString(field(o, '@type')) ?? '';
  const dot = t.lastIndexOf('.');
  return dot >= 0 ? t.slice(dot + 1) : t;
}
