// Checks `meshctl inspect pod --from-file` against istioctl proxy-config's golden outputs: for each golden,
// meshctl reads the same config dump, renders the same section as text, and both texts are cut into cells
// by their column headers. Every golden row must appear in meshctl's table, in the same order, with the same
// value in each of istioctl's columns (meshctl's extra columns are not compared).
//
// Differences of presentation that are not differences of content, and the only ones tolerated:
// - `proxy-config all` prefixes names with their type ("cluster/agent", "secret/default"); meshctl does not;
// - istioctl prints "0.0.0" for an Envoy build the bootstrap does not name; meshctl prints "unknown".
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { inspectTarget } from '../runtime/inspect.js';
import type { ProxySnapshot, Section } from '../runtime/model.js';
import { healthRows, sectionTable } from '../runtime/render.js';
import { table as tableText } from '../output/table.js';

export interface GoldenResult {
  name: string;
  pass: boolean;
  detail: string;
}

interface Golden {
  name: string;
  dump: string;
  check: (dump: string, goldenPath: string) => Promise<Tally>;
  golden: string;
}

const WRITER = 'writer/envoy/configdump/testdata';

const GOLDENS: Golden[] = [
  { name: 'proxy-config all', dump: 'proxyconfig/testdata/config_dump.json', golden: 'proxyconfig/testdata/config_dump_summary.txt', check: checkTextGolden },
  {
    name: 'proxy-config all --with-headers',
    dump: 'proxyconfig/testdata/config_dump.json',
    golden: 'proxyconfig/testdata/config_dump_summary_withheaders.txt',
    check: checkTextGolden,
  },
  { name: 'proxy-config endpoint', dump: `${WRITER}/endpoint/configdump.json`, golden: `${WRITER}/endpoint/emptyfilter_output.txt`, check: checkTextGolden },
  { name: 'proxy-config endpoint -o json', dump: `${WRITER}/endpoint/configdump.json`, golden: `${WRITER}/endpoint/emptyfilter_output.json`, check: checkEndpointDocument() },
  { name: 'proxy-config endpoint -o yaml', dump: `${WRITER}/endpoint/configdump.json`, golden: `${WRITER}/endpoint/emptyfilter_output.yaml`, check: checkEndpointDocument() },
  { name: 'proxy-config endpoint --port 8080', dump: `${WRITER}/endpoint/configdump.json`, golden: `${WRITER}/endpoint/portfilter_output.txt`, check: checkTextGolden8080() },
  {
    name: 'proxy-config endpoint --port 8080 -o json',
    dump: `${WRITER}/endpoint/configdump.json`,
    golden: `${WRITER}/endpoint/portfilter_output.json`,
    check: checkEndpointDocument(8080),
  },
  {
    name: 'proxy-config endpoint --port 8080 -o yaml',
    dump: `${WRITER}/endpoint/configdump.json`,
    golden: `${WRITER}/endpoint/portfilter_output.yaml`,
    check: checkEndpointDocument(8080),
  },
  ...['empty-gateway', 'istio-gateway-http-route-prefix', 'k8s-gateway-http-route-path-prefix'].map(
    (c): Golden => ({ name: `proxy-config route (${c})`, dump: `${WRITER}/routes/${c}/configdump.json`, golden: `${WRITER}/routes/${c}/output.txt`, check: checkTextGolden }),
  ),
  ...['istio', 'spire'].map(
    (c): Golden => ({ name: `proxy-config secret (${c})`, dump: `${WRITER}/secret/${c}/config_dump.json`, golden: `${WRITER}/secret/${c}/output`, check: checkTextGolden }),
  ),
  { name: 'proxy-config bootstrap (version summary)', dump: `${WRITER}/configdump.json`, golden: `${WRITER}/versionsummary.txt`, check: checkTextGolden },
];

/** Runs every golden of the corpus in `dir` (the istio-proxyconfig folder). */
export async function runAll(dir: string): Promise<GoldenResult[]> {
  const results: GoldenResult[] = [];
  for (const g of GOLDENS) {
    const label = `${g.name}: ${g.golden.split('/').slice(-2).join('/')}`;
    try {
      const tally = await g.check(path.join(dir, g.dump), path.join(dir, g.golden));
      const pass = tally.problems.length === 0 && tally.cells > 0;
      const compared = `${tally.rows} rows in ${tally.tables} tables, ${tally.cells} cells compared`;
      results.push({ name: label, pass, detail: tally.problems.length ? tally.problems.slice(0, 5).join('; ') : tally.cells ? compared : 'nothing was compared' });
    } catch (err) {
      results.push({ name: label, pass: false, detail: `error: ${err instanceof Error ? err.message : String(err)}` });
    }
  }
  return results;
}

// ---------------------------------------------------------------- golden text

/** Column names of both tools' tables, longest first so that "DESTINATION RULE" wins over "DESTINATION". */
const HEADERS = [
  'NAME',
  'SERVICE FQDN',
  'PORT',
  'SUBSET',
  'DIRECTION',
  'TYPE',
  'DESTINATION RULE',
  'ADDRESSES',
  'ADDRESS',
  'MATCH',
  'DESTINATION',
  'DESTINATIONS',
  'VHOST NAME',
  'DOMAINS',
  'VIRTUAL SERVICE',
  'RESOURCE NAME',
  'STATUS',
  'VALID CERT',
  'SERIAL NUMBER',
  'NOT AFTER',
  'NOT BEFORE',
  'TRUST DOMAIN',
  'LOCALITY',
  'CLUSTER',
  'ENDPOINTS',
  'CIRCUIT BREAKERS',
  'WEIGHT',
  'HEALTH',
  'ACTIVE CX',
  'ACTIVE RQ',
  'SPIFFE ID',
  'ISSUER',
  'TIME LEFT',
].sort((a, b) => b.length - a.length);

interface ParsedTable {
  head: string[];
  rows: Record<string, string>[];
}

/** Finds the columns of a header line; null when the line is not a table header. */
function columnsOf(header: string): { name: string; start: number }[] | null {
  const cols: { name: string; start: number }[] = [];
  let i = 0;
  while (i < header.length) {
    if (header[i] === ' ') {
      i++;
      continue;
    }
    const name = HEADERS.find((h) => header.startsWith(h, i) && (i + h.length === header.length || header[i + h.length] === ' '));
    if (!name) return null;
    cols.push({ name, start: i });
    i += name.length;
  }
  return cols.length >= 2 ? cols : null;
}

/** Cuts a rendered table (header line first) into cells by the header's column positions. */
export function parseTable(lines: string[]): ParsedTable | null {
  const cols = columnsOf(lines[0] ?? '');
  if (!cols) return null;
  const rows = lines.slice(1).map((line) => {
    const row: Record<string, string> = {};
    cols.forEach((c, i) => {
      const end = i + 1 < cols.length ? cols[i + 1]!.start : undefined;
      row[c.name] = line.slice(c.start, end).trim();
    });
    return row;
  });
  return { head: cols.map((c) => c.name), rows };
}

type Block = { kind: 'table'; table: ParsedTable } | { kind: 'fields'; fields: Map<string, string> };

/** A golden output's blocks: tables and "Key: value" groups, split on blank lines and section banners. */
function blocksOf(text: string): Block[] {
  const blocks: Block[] = [];
  const chunks = text
    .replace(/\r\n/g, '\n')
    .split(/\n\s*\n/)
    .map((c) => c.split('\n').filter((l) => l.trim() !== '' && !/^-{3,}.*-{3,}$/.test(l.trim())))
    .filter((c) => c.length > 0);
  for (const lines of chunks) {
    const table = parseTable(lines);
    if (table) {
      blocks.push({ kind: 'table', table });
      continue;
    }
    const fields = new Map<string, string>();
    for (const l of lines) {
      const m = /^([^:]+):\s+(.*)$/.exec(l);
      if (m) fields.set(m[1]!.trim(), m[2]!.trim());
    }
    if (fields.size) blocks.push({ kind: 'fields', fields });
  }
  return blocks;
}

function sectionOfTable(head: string[]): Exclude<Section, 'health' | 'config'> | null {
  if (head.includes('SERVICE FQDN')) return 'clusters';
  if (head.includes('VHOST NAME')) return 'routes';
  if (head.includes('RESOURCE NAME')) return 'certs';
  if (head.includes('LOCALITY')) return 'endpoints';
  if (head.includes('MATCH') && head.includes('DESTINATION')) return 'listeners';
  return null;
}

const TYPE_PREFIX: Partial<Record<Section, string>> = {
  clusters: 'cluster/',
  listeners: 'listener/',
  routes: 'route/',
  certs: 'secret/',
  endpoints: 'endpoint/',
};

/** Drops `proxy-config all`'s type prefix from the name columns when every row carries it. */
function stripTypePrefix(section: Section, table: ParsedTable): ParsedTable {
  const prefix = TYPE_PREFIX[section];
  const nameCol = table.head[0]!;
  if (!prefix || !table.rows.length || !table.rows.every((r) => (r[nameCol] ?? '').startsWith(prefix))) return table;
  const strip = (v: string) => (v.startsWith(prefix) ? v.slice(prefix.length) : v);
  return {
    head: table.head,
    rows: table.rows.map((r) => {
      const out = { ...r, [nameCol]: strip(r[nameCol] ?? '') };
      if ('SERVICE FQDN' in out) out['SERVICE FQDN'] = strip(out['SERVICE FQDN']!);
      return out;
    }),
  };
}

async function readSnapshot(dump: string, sections: Section[]): Promise<ProxySnapshot> {
  return inspectTarget({ fromFile: dump }, sections);
}

/** meshctl's table for `section`, rendered as text by the same renderer as `inspect pod` and cut into cells again. */
function meshctlTable(snapshot: ProxySnapshot, section: Exclude<Section, 'health' | 'config'>): ParsedTable {
  const table = sectionTable(snapshot, section);
  if (!table) throw new Error(`meshctl read no ${section}: ${snapshot.unavailable[section] ?? 'not requested'}`);
  const parsed = parseTable(tableText(table.head, table.rows).split('\n'));
  if (!parsed) throw new Error(`meshctl's ${section} table has a header this check does not know: ${table.head.join(', ')}`);
  return parsed;
}

/** What one golden's comparison found: mismatches, and how much was compared. */
class Tally {
  readonly problems: string[] = [];
  rows = 0;
  cells = 0;
  tables = 0;
}

function compareTables(tally: Tally, section: Section, golden: ParsedTable, actual: ParsedTable): void {
  tally.tables++;
  const absent = golden.head.filter((col) => !actual.head.includes(col));
  if (absent.length) {
    tally.problems.push(`${section}: meshctl has no ${absent.join(', ')} column`);
    return;
  }
  if (golden.rows.length !== actual.rows.length) {
    tally.problems.push(`${section}: istioctl lists ${golden.rows.length} rows, meshctl ${actual.rows.length}`);
  }
  const n = Math.min(golden.rows.length, actual.rows.length);
  for (let i = 0; i < n; i++) {
    tally.rows++;
    for (const col of golden.head) {
      tally.cells++;
      const want = golden.rows[i]![col] ?? '';
      const got = actual.rows[i]![col] ?? '';
      if (want !== got) tally.problems.push(`${section} row ${i + 1} ${col}: istioctl "${want}", meshctl "${got}"`);
    }
  }
}

const VERSION_FIELDS = ['Istio Version', 'Istio Proxy Version', 'Envoy Version'];

function compareVersions(tally: Tally, golden: Map<string, string>, snapshot: ProxySnapshot): void {
  if (!snapshot.health) {
    tally.problems.push('health: meshctl read no health section');
    return;
  }
  const ours = new Map(healthRows(snapshot.health));
  for (const key of VERSION_FIELDS) {
    if (!golden.has(key)) continue;
    tally.cells++;
    let want = golden.get(key)!;
    if (key === 'Envoy Version' && want === '0.0.0') want = 'unknown';
    const got = ours.get(key);
    if (got !== want) tally.problems.push(`health ${key}: istioctl "${golden.get(key)}", meshctl "${got ?? '(none)'}"`);
  }
}

async function checkTextGolden(dump: string, goldenPath: string, filter?: (s: ProxySnapshot) => void): Promise<Tally> {
  const tally = new Tally();
  const blocks = blocksOf(await fs.readFile(goldenPath, 'utf8'));
  if (!blocks.length) tally.problems.push('the golden output has no table');
  const snapshot = await readSnapshot(dump, ['health', 'listeners', 'routes', 'clusters', 'endpoints', 'certs']);
  filter?.(snapshot);
  for (const block of blocks) {
    if (block.kind === 'fields') {
      compareVersions(tally, block.fields, snapshot);
      continue;
    }
    const section = sectionOfTable(block.table.head);
    if (!section) {
      tally.problems.push(`unknown golden table (${block.table.head.join(', ')})`);
      continue;
    }
    compareTables(tally, section, stripTypePrefix(section, block.table), meshctlTable(snapshot, section));
  }
  return tally;
}

/** `proxy-config endpoint --port 8080`: meshctl's endpoints of port 8080 (as `jq '.endpoints[] | select(.port == 8080)'`). */
function checkTextGolden8080(): Golden['check'] {
  return (dump, goldenPath) =>
    checkTextGolden(dump, goldenPath, (s) => {
      s.endpoints = s.endpoints?.filter((e) => e.port === 8080) ?? null;
    });
}

/** istioctl's -o json / -o yaml endpoint output (ClusterLoadAssignments) as rows of address, status, locality, cluster. */
function checkEndpointDocument(port?: number): Golden['check'] {
  return async (dump, goldenPath) => {
    const tally = new Tally();
    const text = await fs.readFile(goldenPath, 'utf8');
    const doc = goldenPath.endsWith('.json') ? JSON.parse(text) : loadYaml(text);
    if (!Array.isArray(doc)) {
      tally.problems.push('the golden output is not a list of ClusterLoadAssignments');
      return tally;
    }
    const rows: Record<string, string>[] = [];
    for (const cla of doc as Record<string, unknown>[]) {
      for (const group of (cla.endpoints as Record<string, unknown>[] | undefined) ?? []) {
        const loc = (group.locality ?? {}) as Record<string, string>;
        const locality = !loc.zone ? (loc.region ?? '') : !loc.subZone ? `${loc.region ?? ''}/${loc.zone}` : `${loc.region ?? ''}/${loc.zone}/${loc.subZone}`;
        for (const lb of (group.lbEndpoints as Record<string, unknown>[] | undefined) ?? []) {
          const address = ((lb.endpoint as Record<string, unknown> | undefined)?.address ?? {}) as Record<string, Record<string, unknown>>;
          const name = address.socketAddress
            ? `${address.socketAddress.address}:${address.socketAddress.portValue}`
            : address.pipe
              ? String(address.pipe.path)
              : address.envoyInternalAddress
                ? `envoy://${address.envoyInternalAddress.serverListenerName}/${address.envoyInternalAddress.endpointId}`
                : 'unknown';
          rows.push({ NAME: name, STATUS: String(lb.healthStatus ?? 'UNKNOWN'), LOCALITY: locality, CLUSTER: String(cla.clusterName ?? '') });
        }
      }
    }
    const snapshot = await readSnapshot(dump, ['endpoints']);
    if (port !== undefined) snapshot.endpoints = snapshot.endpoints?.filter((e) => e.port === port) ?? null;
    compareTables(tally, 'endpoints', { head: ['NAME', 'STATUS', 'LOCALITY', 'CLUSTER'], rows }, meshctlTable(snapshot, 'endpoints'));
    return tally;
  };
}
