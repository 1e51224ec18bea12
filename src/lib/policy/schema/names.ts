// Name, host, label, address and regex checks with the semantics Istio's validation uses.
import { createRequire } from 'node:module';

// node:net is loaded only when an address is actually checked.
const require = createRequire(import.meta.url);
let isIPFn: ((input: string) => number) | undefined;
function isIP(input: string): number {
  isIPFn ??= (require('node:net') as typeof import('node:net')).isIP;
  return isIPFn(input);
}

const DNS1123_LABEL = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const WILDCARD_LABEL = /^(?:\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;
const QUALIFIED_NAME = '(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_KEY = new RegExp(`^((?:[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)(?:\\.[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)*/)?(${QUALIFIED_NAME})$`);
const LABEL_VALUE = new RegExp(`^(${QUALIFIED_NAME})?$`);

export function isDns1123Label(v: string): boolean {
  return v.length <= 63 && DNS1123_LABEL.test(v);
}

export function isWildcardDns1123Label(v: string): boolean {
  return v.length <= 63 && WILDCARD_LABEL.test(v);
}

/** Why `domain` is not a list of DNS labels (a trailing dot is allowed), or undefined. */
function dnsLabelsProblem(domain: string): string | undefined {
  const parts = domain.split('.');
  const tld = parts[parts.length - 1]!;
  if (/^[+-]?\d+$/.test(tld)) return `its top-level domain ${JSON.stringify(tld)} is all digits`;
  for (let i = 0; i < parts.length; i++) {
    const label = parts[i]!;
    if (i === parts.length - 1 && label === '') return undefined;
    if (!isDns1123Label(label)) return `its label ${JSON.stringify(label)} is not a DNS label`;
  }
  return undefined;
}

function preconditions(name: string): string | undefined {
  if (name.length > 255) return 'it is longer than 255 characters';
  if (name.length === 0) return 'it is empty';
  return undefined;
}

/** A fully qualified domain name (no wildcard). */
export function fqdnProblem(fqdn: string): string | undefined {
  return preconditions(fqdn) ?? dnsLabelsProblem(fqdn);
}

/** A domain name whose first label may be a wildcard (`*`, `*.example.com`, `*-suffix.example.com`). */
export function wildcardDomainProblem(domain: string): string | undefined {
  const pre = preconditions(domain);
  if (pre) return pre;
  const dot = domain.indexOf('.');
  const first = dot === -1 ? domain : domain.slice(0, dot);
  if (!isWildcardDns1123Label(first)) return `its label ${JSON.stringify(first)} is not a DNS label`;
  return dot === -1 ? undefined : dnsLabelsProblem(domain.slice(dot + 1));
}

/** As wildcardDomainProblem, also allowing the `outbound_.<port>_...` names of auto-generated SNI hosts. */
export function gatewayBoundDomainProblem(sni: boolean, domain: string): string | undefined {
  const pre = preconditions(domain);
  if (pre) return pre;
  const dot = domain.indexOf('.');
  const first = dot === -1 ? domain : domain.slice(0, dot);
  if (sni && first === 'outbound_') return /outbound_.([0-8].*).*/.test(domain) ? undefined : `its label ${JSON.stringify(first)} is not a DNS label`;
  if (!isWildcardDns1123Label(first)) return `its label ${JSON.stringify(first)} is not a DNS label`;
  return dot === -1 ? undefined : dnsLabelsProblem(domain.slice(dot + 1));
}

export function isIpAddress(v: string): boolean {
  return isIP(v) !== 0;
}

/** An IP address or a CIDR block. */
export function ipSubnetProblem(subnet: string): string | undefined {
  if ((subnet.match(/\//g) ?? []).length === 1) {
    const [ip, bits] = subnet.split('/') as [string, string];
    const family = isIP(ip);
    const max = family === 4 ? 32 : family === 6 ? 128 : -1;
    if (max < 0 || !/^\d{1,3}$/.test(bits) || Number(bits) > max) return `${subnet} is not a valid CIDR block`;
    return undefined;
  }
  return isIP(subnet) ? undefined : `${subnet} is not a valid IP address`;
}

export function labelKeyProblem(key: string): string | undefined {
  const m = LABEL_KEY.exec(key);
  if (!m) return `label key ${JSON.stringify(key)} is not valid`;
  if (m[1] && m[1].length - 1 > 253) return `label key ${JSON.stringify(key)} has a prefix longer than 253 characters`;
  if (m[2]!.length > 63) return `label key ${JSON.stringify(key)} has a name longer than 63 characters`;
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  return LABEL_VALUE.test(value) ? undefined : `label value ${JSON.stringify(value)} is not valid`;
}

/** Known protocols, case-insensitive, as Istio parses them. */
const PROTOCOLS: Record<string, string> = {
  tcp: 'TCP', udp: 'UDP', grpc: 'GRPC', 'grpc-web': 'GRPC-Web', http: 'HTTP', http_proxy: 'HTTP_PROXY', http2: 'HTTP2',
  https: 'HTTPS', tls: 'TLS', mongo: 'Mongo', redis: 'Redis', mysql: 'MySQL',
};

export function parseProtocol(p: unknown): string | undefined {
  return typeof p === 'string' ? PROTOCOLS[p.toLowerCase()] : undefined;
}

export function isHttpProtocol(p: string | undefined): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'HTTP_PROXY' || p === 'GRPC' || p === 'GRPC-Web';
}

export function isTlsProtocol(p: string | undefined): boolean {
  return p === 'HTTPS' || p === 'TLS';
}

export function isTcpProtocol(p: string | undefined): boolean {
  return p === 'TCP' || p === 'HTTPS' || p === 'TLS' || p === 'Mongo' || p === 'Redis' || p === 'MySQL';
}

/**
 * Whether an RE2 regex (Envoy's dialect) is acceptable: RE2-only syntax is translated for the JS engine,
 * and constructs RE2 rejects (look-around, back-references) are refused. Returns the problem or undefined.
 */
export function re2Problem(re: string): string | undefined {
  if (re.length > 1024) return 'it is longer than 1024 characters, the most Envoy accepts';
  if (/\(\?<?[=!]/.test(re)) return 'it uses look-around, which RE2 does not support';
  if (/\\[1-9]/.test(re)) return 'it uses a back-reference, which RE2 does not support';
  let js = re
    .replace(/\\Q([\s\S]*?)(\\E|$)/g, (_m, lit: string) => lit.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
    .replace(/\(\?[imsU-]+\)/g, '')
    .replace(/\(\?[imsU-]+:/g, '(?:')
    .replace(/\(\?P</g, '(?<')
    .replace(/\\z/g, '$')
    .replace(/\\A/g, '^')
    .replace(/\[:\^?[a-z]+:\]/g, 'a')
    .replace(/\\[pP]([A-Z])/g, '\\p{$1}');
  if (js.includes('(?<')) js = js.replace(/\(\?<([A-Za-z_]\w*)>/g, '(?<$1>');
  for (const flags of ['', 'u']) {
    try {
      new RegExp(js, flags);
      return undefined;
    } catch {
      /* try the next dialect */
    }
  }
  return 'it is not a valid RE2 regular expression';
}

/** Go's net/http status texts: the codes retryOn accepts as numbers. */
export const HTTP_STATUS_CODES = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308, 400, 401, 402, 403, 404, 405,
  406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505,
  506, 507, 508, 510, 511,
]);

export const GRPC_STATUS_NAMES = new Set([
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
]);

/** Istio host names, with Istio's wildcard semantics (`*.example.com`, `*`). */
export function hostsOverlap(a: string, b: string): boolean {
  const aw = a.startsWith('*');
  const bw = b.startsWith('*');
  if (aw && bw) return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aw) return b.endsWith(a.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

/** Whether host `a` is covered by host `b`. */
export function hostSubsetOf(a: string, b: string): boolean {
  if (b.startsWith('*')) {
    if (a.startsWith('*')) return b.length <= a.length && a.slice(1).endsWith(b.slice(1));
    return a.endsWith(b.slice(1));
  }
  if (a.startsWith('*')) return false;
  return a === b;
}
