import { test } from 'node:test';
import assert from 'node:assert/strict';
import { healthFromServer, parseReady, parseServerInfo } from '../../../../src/lib/runtime/envoy/server-info.js';
import { serverStateName } from '../../../../src/lib/runtime/envoy/stats.js';
import { fixture } from './fixture-server.js';

test('/server_info of Envoy 1.15: version without its commit, state, uptime', () => {
  const info = parseServerInfo(JSON.parse(fixture('server_info.envoy-1.15-front-proxy-example.json')));
  assert.equal(info.version, '1.15.0-dev/Clean/RELEASE/BoringSSL');
  assert.equal(info.state, 'LIVE');
  assert.equal(info.uptimeSeconds, 188);
  assert.equal(info.node, null, 'Envoy 1.15 reports no node');
});

test('/server_info of Envoy 1.31, trimmed to version and state', () => {
  const info = parseServerInfo(JSON.parse(fixture('server_info.datadog-fixture-envoy-1.31-trimmed.json')));
  assert.equal(info.version, '1.31.0/Clean/RELEASE/BoringSSL');
  assert.equal(info.state, 'LIVE');
  assert.equal(info.uptimeSeconds, null);
});

test('/ready: LIVE is ready; 503 names the state and the reason says what it waits for', () => {
  assert.deepEqual(parseReady(200, 'LIVE\n'), { ready: true, state: 'LIVE' });
  const initializing = parseReady(503, 'INITIALIZING\n');
  assert.deepEqual(initializing, { ready: false, state: 'INITIALIZING' });
  const health = healthFromServer(null, initializing, {}, null);
  assert.equal(health.ready, false);
  assert.equal(health.state, 'INITIALIZING');
  assert.match(health.reason, /first clusters and listeners/);
  assert.equal(healthFromServer(null, parseReady(503, 'DRAINING'), {}, null).state, 'DRAINING');
  assert.equal(healthFromServer(null, parseReady(503, 'PRE_INITIALIZING'), {}, null).state, 'PRE_INITIALIZING');
});

test('the server.state gauge maps LIVE=0, DRAINING=1, PRE_INITIALIZING=2, INITIALIZING=3', () => {
  assert.deepEqual([0, 1, 2, 3, 4].map(serverStateName), ['LIVE', 'DRAINING', 'PRE_INITIALIZING', 'INITIALIZING', null]);
});
