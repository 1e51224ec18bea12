// Access-log parsing and reading: from an offset, and backwards from the end as far as a window needs.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { ACCESS_LOG_FIELDS, accessLogAsJsonLines, parseAccessLog, readAccessLog, readRecentAccessLog } from '../../../../src/lib/runtime/haproxy/access-log.js';

function line(o: Record<string, unknown>): string {
  return JSON.stringify({ time: '2030-01-01T00:00:00Z', start_ms: 1000, request_id: 'r', proxy: 'p-0', direction: 'outbound', source: 's', method: 'GET', host: 'reviews', path: '/', route: 'vs:default:reviews:split', destination_host: 'reviews.default.svc.cluster.local', destination_subset: 'v1', backend: 'b', server: 's', status: 200, duration_ms: 1, upstream_ms: 1, retries: '0', bytes: 10, termination: '--', ...o });
}

describe('access log', () => {
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
  });

  it('parses requests and connection errors, skipping other lines', () => {
    const text = [line({ retries: '+2' }), 'not json', '{"broken', JSON.stringify({ time: 't', start_ms: 5, proxy: 'p-0', direction: 'inbound', connection_error: 'SSL handshake failure', client: '127.0.0.1:5' })].join('\n');
    const { entries, connectionErrors } = parseAccessLog(text);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].retries, 2);
    assert.equal(entries[0].redispatched, true);
    assert.deepEqual(connectionErrors.map((e) => e.error), ['SSL handshake failure']);
  });

  it('gives a request line written without a formatted time the UTC time of its start, to the second', () => {
    const withoutTime = JSON.parse(line({ start_ms: 1_893_456_000_123 })) as Record<string, unknown>;
    delete withoutTime.time;
    assert.equal(parseAccessLog(JSON.stringify(withoutTime)).entries[0].time, '2030-01-01T00:00:00Z');
  });

  it('reads HAProxy\'s "-" for an unset destination as none', () => {
    const { entries } = parseAccessLog(line({ destination_host: '-', destination_subset: '-', status: 404 }));
    assert.equal(entries[0].destinationHost, '');
    assert.equal(entries[0].destinationSubset, '');
  });

  it('reads positional lines: escaped client text, an inbound line\'s host as its destination, mirrored copies; prints them as JSON', () => {
    const positional = (o: Record<string, string>) => ['m1', ...ACCESS_LOG_FIELDS.map((f) => o[f.name] ?? '-')].join('\t');
    const base = { start_ms: '1893456000123', handshake_ms: '2', idle_ms: '5', proxy: 'p-0', method: 'GET', host: 'reviews', path: '\\/a\\/b', backend: 'b', server: 's', status: '200', duration_ms: '3', upstream_ms: '2', retries: '0', bytes: '10', request_bytes: '70', termination: '--' };
    const text = [
      positional({ ...base, request_id: 'id\\t\\"q\\"', direction: 'inbound', destination_host: '' }),
      positional({ ...base, request_id: 'copy', direction: 'mirror', destination_host: 'reviews-shadow', destination_subset: 'v2' }),
      `${positional({ ...base, request_id: 'cut', direction: 'outbound' }).split('\t').slice(0, 12).join('\t')}`,
    ].join('\n');
    const { entries } = parseAccessLog(text);
    assert.deepEqual(entries.map((e) => [e.requestId, e.path, e.destinationHost, e.mirror, e.startMs]), [
      ['id\t"q"', '/a/b', 'reviews', false, 1893456000130],
      ['copy', '/a/b', 'reviews-shadow', true, 1893456000130],
    ], 'a line cut short is skipped');
    const printed = accessLogAsJsonLines(text).split('\n');
    assert.deepEqual(JSON.parse(printed[0]!), { ...Object.fromEntries(ACCESS_LOG_FIELDS.map((f) => [f.name, '-'])), ...base, start_ms: 1893456000123, handshake_ms: 2, idle_ms: 5, status: 200, duration_ms: 3, upstream_ms: 2, bytes: 10, request_bytes: 70, path: '/a/b', request_id: 'id\t"q"', direction: 'inbound', destination_host: 'reviews' });
    assert.equal(printed[2], text.split('\n')[2], 'a line that is not a whole request line is printed as it is');
  });

  it('reads m2 lines, whose client text is percent-encoded: a tab, a newline, a percent sign and bytes that are not UTF-8 come back as sent, never as a field or a line', () => {
    const positional = (o: Record<string, string>) => ['m2', ...ACCESS_LOG_FIELDS.map((f) => o[f.name] ?? '-')].join('\t');
    const base = { start_ms: '1893456000123', handshake_ms: '0', idle_ms: '0', proxy: 'p-0', direction: 'outbound', method: 'GET', backend: 'b', server: 's', status: '200', duration_ms: '3', upstream_ms: '2', retries: '0', bytes: '10', request_bytes: '70', termination: '--', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' };
    const text = [
      positional({ ...base, request_id: 'a%09b%0A%2509%22', host: 'reviews%09x', path: '%2Fa%2520b%2F%5C' }),
      positional({ ...base, request_id: 'bad%FFutf8', host: 'reviews', path: '%2F' }),
    ].join('\n');
    const { entries } = parseAccessLog(text);
    assert.deepEqual(entries.map((e) => [e.requestId, e.host, e.path, e.status, e.traceId]), [
      ['a\tb\n%09"', 'reviews\tx', '/a%20b/\\', 200, '4bf92f3577b34da6a3ce929d0e0e4736'],
      ['bad\ufffdutf8', 'reviews', '/', 200, '4bf92f3577b34da6a3ce929d0e0e4736'],
    ]);
    const printed = accessLogAsJsonLines(text).split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(printed.map((o) => [o.request_id, o.path, o.status]), [['a\tb\n%09"', '/a%20b/\\', 200], ['bad\ufffdutf8', '/', 200]]);
  });

  it('reads m3 lines: the path with HAProxy\'s #XX escapes, the destination\'s host and subset from one variable, one "-" for none', () => {
    const fields = (o: Record<string, string>) => ACCESS_LOG_FIELDS.map((f) => o[f.name] ?? '-');
    const base = { start_ms: '1893456000123', handshake_ms: '0', idle_ms: '0', proxy: 'p-0', direction: 'outbound', method: 'GET', host: 'reviews', backend: 'b', server: 's', status: '200', duration_ms: '3', upstream_ms: '2', retries: '0', bytes: '10', request_bytes: '70', termination: '--' };
    const routed = ['m3', ...fields({ ...base, request_id: 'a%09b', path: '/a%20b/#7F#22#23#C3#A9#FF', destination_host: 'reviews.default.svc.cluster.local', destination_subset: 'v2' })].join('\t');
    // Nothing routed: the destination variable, unset, printed a single "-" for both fields.
    const unrouted = fields({ ...base, request_id: 'n', path: '<BADREQ>', status: '400' });
    unrouted.splice(ACCESS_LOG_FIELDS.findIndex((f) => f.name === 'destination_subset'), 1);
    const shortOne = ['m3', ...fields({ ...base, request_id: 'x', destination_host: 'h.example' })].join('\t').replace('\th.example\t-\t', '\th.example\t');
    const { entries } = parseAccessLog([routed, ['m3', ...unrouted].join('\t'), shortOne].join('\n'));
    assert.deepEqual(entries.map((e) => [e.requestId, e.path, e.destinationHost, e.destinationSubset, e.status]), [
      ['a\tb', '/a%20b/\x7f"#\u00e9\ufffd', 'reviews.default.svc.cluster.local', 'v2', 200],
      ['n', '-', '', '', 400],
    ], 'a line one field short whose destination is not "-" is no line of the layout');
  });

  it('reading back to a window does not stop at a slow request that started before it but ended inside it', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-log-'));
    dirs.push(dir);
    const file = path.join(dir, 'access.log');
    const since = 1_800_000_000_000;
    // Lines are written as requests end: a fast request of the window (its line long enough to hold the
    // 1 MiB read boundary), then a 5 s request that started before the window, then 1 MiB of the window.
    const fast = line({ request_id: 'fast', start_ms: since + 100, duration_ms: 2, path: `/${'f'.repeat(4000)}` });
    const slow = line({ request_id: 'slow', start_ms: since - 3000, duration_ms: 5000 });
    const rest: string[] = [];
    for (let size = 0, i = 0; size < 1024 * 1024 - slow.length - 2000; i++) {
      const l = line({ request_id: `later-${i}`, start_ms: since + 200 + i, duration_ms: 1, path: `/${'x'.repeat(200)}` });
      rest.push(l);
      size += l.length + 1;
    }
    const old = Array.from({ length: 50 }, (_, i) => line({ request_id: `old-${i}`, start_ms: since - 60_000 + i, duration_ms: 1 }));
    await fs.writeFile(file, `${[...old, fast, slow, ...rest].join('\n')}\n`);
    const recent = await readRecentAccessLog(file, { sinceMs: since });
    const ids = recent.entries.map((e) => e.requestId);
    assert.ok(ids.includes('fast'), 'the fast request of the window was read');
    assert.ok(!ids.includes('slow') && !ids.some((id) => id.startsWith('old-')), 'requests that started before the window are left out');
    assert.equal(ids.length, rest.length + 1);
  });

  it('reads complete lines from an offset and leaves a partial last line for later', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-log-'));
    dirs.push(dir);
    const file = path.join(dir, 'access.log');
    await fs.writeFile(file, `${line({ request_id: 'a' })}\n${line({ request_id: 'b' }).slice(0, 30)}`);
    const first = await readAccessLog(file);
    assert.deepEqual(first.entries.map((e) => e.requestId), ['a']);
    await fs.appendFile(file, `${line({ request_id: 'b' }).slice(30)}\n`);
    const second = await readAccessLog(file, first.nextOffset);
    assert.deepEqual(second.entries.map((e) => e.requestId), ['b']);
    assert.deepEqual((await readAccessLog(path.join(dir, 'missing.log'))).entries, []);
  });

  it('follows a log set aside as access.log.1: the rest of it first, the new one from its start, and the lines its writer still adds', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshctl-log-'));
    dirs.push(dir);
    const file = path.join(dir, 'access.log');
    const ids = (r: { entries: { requestId: string }[] }) => r.entries.map((e) => e.requestId);
    const write = (name: string, ...requestIds: string[]) => fs.appendFile(name, requestIds.map((id) => `${line({ request_id: id })}\n`).join(''));
    await write(file, 'a', 'b');
    const first = await readAccessLog(file, 0);
    assert.deepEqual(ids(first), ['a', 'b']);
    // Its writer logs one more, then the log is set aside and a successor begins a new one, bigger than the old offset.
    await write(file, 'c');
    await fs.rename(file, `${file}.1`);
    await write(file, 'd', 'e', 'f', 'g', 'h');
    const second = await readAccessLog(file, first.position);
    assert.deepEqual(ids(second), ['c', 'd', 'e', 'f', 'g', 'h']);
    // The old writer ends a last request into the set-aside log after that read: it is read next time.
    await write(`${file}.1`, 'late');
    await write(file, 'i');
    const third = await readAccessLog(file, second.position);
    assert.deepEqual(ids(third), ['late', 'i']);
    // Set aside again: the first set-aside log is replaced, its lines were read.
    await fs.rename(file, `${file}.1`);
    await write(file, 'j');
    assert.deepEqual(ids(await readAccessLog(file, third.position)), ['j']);
    // Without a known inode (a stored cursor), a log shorter than the offset is read from its start.
    assert.deepEqual(ids(await readAccessLog(file, 1_000_000)), ['j']);
  });
});
