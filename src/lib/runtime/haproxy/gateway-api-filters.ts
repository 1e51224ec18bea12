// HAProxy rules for what an HTTPRoute rule asks beyond a VirtualService route: RequestRedirect (scheme,
// hostname, port, path, status), URLRewrite (hostname, ReplaceFullPath, ReplacePrefixMatch with
// path-segment semantics) and the 500 a backendRef that does not resolve gets.
import type { HttpRoute } from '../../policy/mesh-model.js';
import type { GatewayApiCors, GatewayApiRedirect, GatewayApiRewrite, PathModifier } from '../../policy/gateway-api/types.js';
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
    `http-request set-var(${exact}) bool(true) if ${condition}{ path -m str ${word(prefix || '/')} }`,
    `http-request replace-path ${word(`^${regexLiteral(prefix)}(/.*)$`)} ${word(`${formatLiteral(base).replace(/\\/g, '\\\\')}\\1`)} if ${condition}!{ var(${exact}) -m bool }`,
    `http-request set-path ${literalFormat(base || '/')} if ${condition}{ var(${exact}) -m bool }`,
  ];
}

/** Path rules under `condition` (ACL terms followed by a space; '' for every request). */
function pathLines(path: PathModifier, prefix: string | null, condition: string): string[] {
  if (path.type === 'ReplaceFullPath') return [`http-request set-path ${literalFormat(path.value || '/')}${condition ? ` if ${condition.trimEnd()}` : ''}`];
  // ReplacePrefixMatch is only valid beside a PathPrefix match; without one the path is kept.
  return prefix === null ? [] : replacePrefixLines(prefix, path.value, condition);
}

/**
 * Frontend rules of a route that answers itself with a redirect (evaluated once the route is chosen).
 * Unset parts come from the request; the port is the parent's declared port unless the scheme is
 * given (then its well-known port), and a scheme's well-known port is left out of Location.
 */
export function gatewayApiFrontendRules(route: HttpRoute | null, isRoute: string): string[] {
  const extras = route?.gatewayApi;
  if (!extras) return [];
  const lines = extras.cors ? corsLines(extras.cors, isRoute) : [];
  if (extras.redirect) lines.push(...redirectLines(extras.redirect, extras.matchedPrefix, `${isRoute} `));
  return lines;
}

/** An allowed origin as a regex: `*` alone is any origin, and `*` in a host stands for one label or more. */
function originPattern(origin: string): string {
  if (origin === '*') return '.*';
  return origin.split('*').map(regexLiteral).join('[^/]+');
}

/**
 * The CORS filter: a preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered
 * here, with the grant when its origin is allowed; an actual request from one goes on and its answer gets the
 * allow-origin, credentials and expose headers. A `*` in allowMethods or allowHeaders answers with
 * what the preflight asked for, which stays valid with credentials.
 */
function corsLines(cors: GatewayApiCors, isRoute: string): string[] {
  if (!cors.allowOrigins.length) return [];
  const allowed = `^(?:${cors.allowOrigins.map(originPattern).join('|')})$`;
  const preflight = `${isRoute} METH_OPTIONS { var(txn.cors_origin) -m found } { req.hdr(access-control-request-method) -m found }`;
  const headers = [
    `hdr access-control-allow-origin ${formatString('%[var(txn.cors_origin)]')}`,
    `hdr access-control-allow-methods ${cors.allowMethods.includes('*') ? formatString('%[req.hdr(access-control-request-method)]') : literalFormat(cors.allowMethods.join(', '))}`,
    ...(cors.allowHeaders.includes('*') ? [`hdr access-control-allow-headers ${formatString('%[req.fhdr(access-control-request-headers)]')}`]
      : cors.allowHeaders.length ? [`hdr access-control-allow-headers ${literalFormat(cors.allowHeaders.join(', '))}`] : []),
    ...(cors.exposeHeaders.length ? [`hdr access-control-expose-headers ${literalFormat(cors.exposeHeaders.join(', '))}`] : []),
    `hdr access-control-max-age ${cors.maxAgeSeconds}`,
    ...(cors.allowCredentials ? ['hdr access-control-allow-credentials true'] : []),
  ];
  return [
    `http-request set-var(txn.cors_origin) req.hdr(origin) if ${isRoute} { req.hdr(origin) -m reg ${word(allowed)} }`,
    `http-request return status 200 ${headers.join(' ')} if ${preflight}`,
    // A preflight from another origin is answered too, without a grant: it never reaches the app.
    `http-request return status 204 if ${isRoute} METH_OPTIONS { req.hdr(origin) -m found } { req.hdr(access-control-request-method) -m found }`,
    `http-response set-header access-control-allow-origin %[var(txn.cors_origin)] if ${isRoute} { var(txn.cors_origin) -m found }`,
    ...(cors.allowCredentials ? [`http-response set-header access-control-allow-credentials true if ${isRoute} { var(txn.cors_origin) -m found }`] : []),
    ...(cors.exposeHeaders.length ? [`http-response set-header access-control-expose-headers ${literalFormat(cors.exposeHeaders.join(', '))} if ${isRoute} { var(txn.cors_origin) -m found }`] : []),
  ];
}

function redirectLines(r: GatewayApiRedirect, prefix: string | null, condition: string): string[] {
  const scheme = r.scheme ?? 'http';
  const port = r.port ?? (r.scheme ? WELL_KNOWN_PORT[scheme] ?? null : r.parentPort);
  const portPart = port === null || port === WELL_KNOWN_PORT[scheme] ? '' : `:${port}`;
  const host = r.hostname ? formatLiteral(r.hostname) : '%[var(txn.host)]';
  const lines = r.path ? pathLines(r.path, prefix, condition) : [];
  const code = [301, 302, 303, 307, 308].includes(r.statusCode) ? r.statusCode : 302;
  // The request path as it now stands (rewritten by the lines above when asked), then its query, if any.
  const location = `${scheme}://${host}${portPart}%[path]%[url,regsub(^[^?]*,)]`;
  lines.push(`http-request redirect location ${formatString(location)} code ${code}${condition ? ` if ${condition.trimEnd()}` : ''}`);
  return lines;
}

function rewriteLines(rewrite: GatewayApiRewrite, prefix: string | null): string[] {
  const lines = rewrite.path ? pathLines(rewrite.path, prefix, '') : [];
  if (rewrite.hostname) lines.push(`http-request set-header host ${literalFormat(rewrite.hostname)}`);
  return lines;
}

/**
 * Backend rules of one destination of a route: the rule's URL rewrite, then the backendRef's own
 * redirect or rewrite, or a 500 for a reference that does not resolve.
 */
export function gatewayApiBackendLines(route: HttpRoute | null, destination: number): string[] {
  const extras = route?.gatewayApi;
  if (!extras) return [];
  if (extras.invalidDestinations.includes(destination)) {
    return [`http-request return status 500 content-type text/plain string ${word('meshctl: backendRef does not resolve\n')}`];
  }
  const own = extras.destinationFilters[destination];
  const lines = extras.rewrite ? rewriteLines(extras.rewrite, extras.matchedPrefix) : [];
  if (own?.rewrite) lines.push(...rewriteLines(own.rewrite, extras.matchedPrefix));
  if (own?.redirect) lines.push(...redirectLines(own.redirect, extras.matchedPrefix, ''));
  return lines;
}

/** Whether the route answers every request itself, so that it needs no backend. */
export function gatewayApiAnswersItself(route: HttpRoute | null): boolean {
  return Boolean(route?.gatewayApi?.redirect);
}
