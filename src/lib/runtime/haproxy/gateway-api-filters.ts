// HAProxy rules for what an HTTPRoute rule asks beyond a VirtualService route: RequestRedirect (scheme,
// hostname, port, path, status), URLRewrite (hostname, ReplaceFullPath, ReplacePrefixMatch with
// path-segment semantics) and the 500 a backendRef that does not resolve gets.
import type { HttpRoute } from '../../policy/mesh-model.js';
import type { PathModifier } from '../../policy/gateway-api/types.js';
import { formatString, literalFormat, regexLiteral, word } from './config.js';

const WELL_KNOWN_PORT: Record<string, number> = { http: 80, https: 443 };

function formatLiteral(text: string): string {
  return text.replace(/%/g, '%%');
}

/**
 * Rules that replace the matched prefix of the request path: `/foo` → `/xyz` turns `/foo/bar` into
 * `/xyz/bar` and `/foo` into `/xyz`; a replacement of `/` or '' leaves `/bar` and `/`.
 */
function replacePrefixLines(prefix: string, replacement: string, condition: string): string[] {
  const base = replacement.replace(/\/+$/, '');
  const exact = `txn.gwapi_exact_prefix`;
  return [
    `http-request set-var(${exact}) bool(true) if ${condition} { path -m str ${word(prefix || '/')} }`,
    `http-request replace-path ${word(`^${regexLiteral(prefix)}(/.*)$`)} ${word(`${formatLiteral(base).replace(/\\/g, '\\\\')}\\1`)} if ${condition} !{ var(${exact}) -m bool }`,
    `http-request set-path ${literalFormat(base || '/')} if ${condition} { var(${exact}) -m bool }`,
  ];
}

function pathLines(path: PathModifier, prefix: string | null, condition: string): string[] {
  if (path.type === 'ReplaceFullPath') return [`http-request set-path ${literalFormat(path.value || '/')} if ${condition}`];
  // ReplacePrefixMatch is only valid beside a PathPrefix match; without one the path is kept.
  return prefix === null ? [] : replacePrefixLines(prefix, path.value, condition);
}

/**
 * Frontend rules of a route that answers itself with a redirect (evaluated once the route is chosen).
 * Unset parts come from the request; the port is the parent's declared port unless the scheme is
 * given (then its well-known port), and a scheme's well-known port is left out of Location.
 */
export function gatewayApiFrontendRules(route: HttpRoute | null, isRoute: string): string[] {
  const r = route?.gatewayApi?.redirect;
  if (!route || !r) return [];
  const scheme = r.scheme ?? 'http';
  const port = r.port ?? (r.scheme ? WELL_KNOWN_PORT[scheme] ?? null : r.parentPort);
  const portPart = port === null || port === WELL_KNOWN_PORT[scheme] ? '' : `:${port}`;
  const host = r.hostname ? formatLiteral(r.hostname) : '%[var(txn.host)]';
  const lines = r.path ? pathLines(r.path, route.gatewayApi?.matchedPrefix ?? null, isRoute) : [];
  const code = [301, 302, 303, 307, 308].includes(r.statusCode) ? r.statusCode : 302;
  // The request path as it now stands (rewritten by the lines above when asked), then its query, if any.
  const location = `${scheme}://${host}${portPart}%[path]%[url,regsub(^[^?]*,)]`;
  lines.push(`http-request redirect location ${formatString(location)} code ${code} if ${isRoute}`);
  return lines;
}

/** Backend rules of one destination of a route: URL rewrite, or a 500 for a reference that does not resolve. */
export function gatewayApiBackendLines(route: HttpRoute | null, destination: number): string[] {
  const extras = route?.gatewayApi;
  if (!extras) return [];
  if (extras.invalidDestinations.includes(destination)) {
    return [`http-request return status 500 content-type text/plain string ${word('meshctl: backendRef does not resolve\n')}`];
  }
  const lines: string[] = [];
  const rewrite = extras.rewrite;
  if (rewrite?.path) lines.push(...pathLines(rewrite.path, extras.matchedPrefix, '{ always_true }'));
  if (rewrite?.hostname) lines.push(`http-request set-header host ${literalFormat(rewrite.hostname)}`);
  return lines;
}

/** Whether the route answers every request itself, so that it needs no backend. */
export function gatewayApiAnswersItself(route: HttpRoute | null): boolean {
  return Boolean(route?.gatewayApi?.redirect);
}
