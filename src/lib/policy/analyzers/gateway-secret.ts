// gateway.SecretAnalyzer: every credentialName of a Gateway names a Secret in the namespace of the gateway's
// workload, and that Secret holds a certificate that is valid now and a private key that can be read.
import type { X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Analyzer, AnalysisContext } from '../analysis.js';
import type { Resource } from '../load.js';
import { K } from '../kinds.js';
import { joinPointer } from '../locate.js';
import { listOf, objectOf, specOf } from '../spec.js';
import { asObject } from './util.js';
import { labelMap, qualifiedName, reportUnmatchedGatewaySelector, selectWorkloads } from './workloads.js';

// node:crypto is loaded only when a Secret is actually inspected: most policy sets hold none.
const require = createRequire(import.meta.url);
let cryptoModule: typeof import('node:crypto') | undefined;
function crypto(): typeof import('node:crypto') {
  cryptoModule ??= require('node:crypto') as typeof import('node:crypto');
  return cryptoModule;
}

/** Key pairs Istio reads a server certificate from, in its order of preference. */
const KEY_PAIRS: [cert: string, key: string][] = [
  ['cert', 'key'],
  ['tls.crt', 'tls.key'],
];

const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}[\r\n]*$/;

/** The Secret's entries as bytes: `data` decoded, `stringData` over it (as the API server merges them). */
function secretEntries(secret: Resource): { entries: Map<string, Buffer>; problem?: string } {
  const entries = new Map<string, Buffer>();
  for (const [key, value] of Object.entries(asObject(secret.object.data))) {
    const text = value === null || value === undefined ? '' : String(value);
    if (!BASE64.test(text.trim())) return { entries, problem: `has data.${key}, which is not base64` };
    entries.set(key, Buffer.from(text, 'base64'));
  }
  for (const [key, value] of Object.entries(asObject(secret.object.stringData))) {
    entries.set(key, Buffer.from(value === null || value === undefined ? '' : String(value), 'utf8'));
  }
  return { entries };
}

interface PemBlock {
  type: string;
  der: Buffer;
}

function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const body = m[2]!.replace(/^[A-Za-z-]+:.*$/gm, '').replace(/\s+/g, '');
    out.push({ type: m[1]!, der: Buffer.from(body, 'base64') });
  }
  return out;
}

/** Splits concatenated DER certificates (one PEM block may carry several, as Go's ParseCertificates allows). */
function splitDer(der: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < der.length) {
    if (der[at] !== 0x30 || at + 2 > der.length) return [der.subarray(at)];
    let len = der[at + 1]!;
    let header = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || at + 2 + n > der.length) return [der.subarray(at)];
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[at + 2 + i]!;
      header = 2 + n;
    }
    const end = at + header + len;
    if (end > der.length) return [der.subarray(at)];
    out.push(der.subarray(at, end));
    at = end;
  }
  return out;
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Why the certificate chain in `key` (PEM) can't serve now, or undefined when it can. */
function certificateProblem(pem: string, key: string, now: number): string | undefined {
  const blocks = pemBlocks(pem);
  if (blocks.length === 0) return `has no PEM certificate in ${key}`;
  // Istio reads the first PEM block as the certificate; later CERTIFICATE blocks are its chain.
  const certBlocks = [blocks[0]!, ...blocks.slice(1).filter((b) => b.type === 'CERTIFICATE')];
  let index = 0;
  for (const block of certBlocks) {
    const ders = splitDer(block.der);
    if (ders.length === 0) return index === 0 ? `has an empty certificate in ${key}` : `has an empty certificate in the chain in ${key}`;
    for (const der of ders) {
      const which = index === 0 ? `a certificate in ${key}` : `certificate ${index + 1} of the chain in ${key}`;
      let cert: X509Certificate;
      try {
        cert = new (crypto().X509Certificate)(der);
      } catch {
        return `has ${which} that cannot be parsed`;
      }
      const to = new Date(cert.validTo);
      const from = new Date(cert.validFrom);
      if (now > to.getTime()) return `has ${which} that expired on ${day(to)}`;
      if (now < from.getTime()) return `has ${which} that is not valid before ${day(from)}`;
      index++;
    }
  }
  return undefined;
}

/** Why a Secret can't serve as a gateway's server credential, or undefined when it can. */
export function credentialProblem(secret: Resource, now = Date.now()): string | undefined {
  const { entries, problem } = secretEntries(secret);
  if (problem) return problem;
  const filled = (k: string) => (entries.get(k)?.length ?? 0) > 0;
  const pair = KEY_PAIRS.find(([c, k]) => filled(c) && filled(k));
  if (!pair) {
    const empty = KEY_PAIRS.find(([c, k]) => entries.has(c) && entries.has(k));
    if (empty) return `has ${empty[0]} and ${empty[1]}, but one of them is empty`;
    const found = [...entries.keys()].sort();
    return `has neither cert and key nor tls.crt and tls.key (found: ${found.length ? found.join(', ') : 'no keys'})`;
  }
  const certProblem = certificateProblem(entries.get(pair[0])!.toString('utf8'), pair[0], now);
  if (certProblem) return certProblem;
  try {
    crypto().createPrivateKey(entries.get(pair[1])!.toString('utf8'));
  } catch {
    return `has a ${pair[1]} that is not a readable, unencrypted PEM private key`;
  }
  return undefined;
}

function analyzeGateway(ctx: AnalysisContext, gw: Resource): void {
  const spec = specOf(gw, K.Gateway);
  const selector = labelMap(spec.selector);
  // Istio reads credentials from the namespace of the gateway's workload, not of the Gateway resource.
  const workload = selectWorkloads(ctx, selector)[0];
  if (!workload) {
    reportUnmatchedGatewaySelector(ctx, gw, selector);
    return;
  }
  listOf(spec.servers).forEach((raw, i) => {
    const tls = objectOf(objectOf(raw).tls);
    const credential = typeof tls.credentialName === 'string' ? tls.credentialName : '';
    if (!credential) return;
    const slash = credential.indexOf('/');
    const ns = slash === -1 ? workload.namespace : credential.slice(0, slash);
    const name = slash === -1 ? credential : credential.slice(slash + 1);
    const pointer = joinPointer('/spec/servers', i, 'tls', 'credentialName');
    const where = ns ? `namespace ${ns}` : 'the namespace of its workload';
    const secret = ctx.find(K.Secret, ns, name);
    if (!secret) {
      ctx.report(
        'IST0101',
        gw,
        pointer,
        `Gateway ${qualifiedName(gw)} uses credential ${name}, but there is no Secret ${name} in ${where}, where its workload ${workload.name} runs; create the Secret there or fix credentialName.`,
      );
      return;
    }
    const problem = credentialProblem(secret);
    if (problem) {
      ctx.report(
        'IST0161',
        gw,
        pointer,
        `Secret ${qualifiedName(secret)}, the credential of Gateway ${qualifiedName(gw)}, ${problem}; put a valid certificate and key in it.`,
      );
    }
  });
}

export const gatewaySecret: Analyzer = {
  name: 'gateway.SecretAnalyzer',
  description: "Checks that a Gateway's credentialName Secrets exist in its workload's namespace and hold a valid certificate and key",
  inputs: [K.Gateway, K.Pod, K.Deployment, K.WorkloadEntry, K.Secret],
  codes: ['IST0101', 'IST0161'],
  run(ctx) {
    for (const gw of ctx.of(K.Gateway)) analyzeGateway(ctx, gw);
  },
};
