// The mesh agent's entry: `node main.js <home>`, started detached by the CLI. One agent per home: the
// pid file is taken exclusively, and an agent that finds a live one exits at once.
import { promises as fs } from 'node:fs';
import { homeLayout } from '../home.js';
import { loadMeshCa, renewalCheckIntervalMs } from '../ca.js';
import { readMeshConfigFile } from '../state.js';
import { Supervisor } from '../supervisor.js';
import { claimPidFile, releasePidFile } from '../../system/pid-file.js';
import { identify } from '../../system/processes.js';
import { MeshAgent } from './agent.js';
import { meshctlVersion } from './client.js';
import { serve } from './server.js';
import { MeshMetricsEndpoint } from '../addons/metrics-endpoint.js';
import { reconcilePrometheus } from '../addons/prometheus.js';
import { readTracingSettings, SpanExporter } from '../addons/trace-export.js';
import { readSpanRetention } from '../addons/span-store.js';

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

async function main(): Promise<void> {
  const root = process.argv[2];
  if (!root) {
    log('usage: main.js <mesh home>');
    process.exit(2);
  }
  const layout = homeLayout(root);
  const config = await readMeshConfigFile(layout);
  if (!config) {
    log(`${layout.configFile} does not exist: the mesh is not installed`);
    process.exit(3);
  }
  if (!(await claimPidFile(layout.agentPid, identify(process.pid)))) {
    log('another agent runs for this home; exiting');
    return;
  }
  const release = () => releasePidFile(layout.agentPid, process.pid).catch(() => undefined);
  const ca = await loadMeshCa(layout.caDir);
  // A proxy's access log that passed the rotation size is set aside by the agent (a reload), which exists once the supervisor does.
  let agentRef: MeshAgent | null = null;
  const supervisor = new Supervisor({
    onEvent: (e) => {
      if (e.type === 'exited') log(`${e.name} (pid ${e.pid}) ended: ${e.how}${e.restartInMs !== null ? `; restarting in ${e.restartInMs} ms` : ''}`);
      else if (e.type === 'started') log(`${e.name} started (pid ${e.pid}${e.restarts ? `, restart ${e.restarts}` : ''})`);
      else if (e.type === 'adopted') log(`${e.name} adopted (pid ${e.pid})`);
      else if (e.type === 'output-large') void agentRef?.rotateLog(e.name);
      else log(`${e.name} could not start: ${e.error}`);
    },
    ...(config.logRotateBytes ? { rotateOutputBytes: config.logRotateBytes } : {}),
  });
  // The agent process's entry composes the layers, as a command does: route shift, above the mesh, is handed in.
  const { shiftGuard } = await import('../../shift/shift.js');
  const spans = new SpanExporter({ log });
  const metrics = new MeshMetricsEndpoint(layout, config.trustDomain, log, spans);
  const metricsPort = await metrics.start().catch((err: Error) => {
    log(`the metrics endpoint could not start: ${err.message}`);
    return null;
  });
  const onPlacement = metricsPort === null ? undefined : (placement: Parameters<MeshMetricsEndpoint['setPlacement']>[0]) => metrics.setPlacement(placement);
  const agent = new MeshAgent({ layout, config, ca, supervisor, version: meshctlVersion(), log, shifts: shiftGuard(layout), onPlacement });
  agentRef = agent;
  const addons = async () => {
    const tracing = await readTracingSettings(layout);
    spans.configure(tracing);
    metrics.setSpanRetention(await readSpanRetention(layout));
    return { prometheus: await reconcilePrometheus(layout, supervisor, config.env ?? {}), tracing: tracing?.url ?? null, metricsPort };
  };
  let exiting = false;
  const exit = async (code: number) => {
    if (exiting) return;
    exiting = true;
    server.close();
    await fs.rm(layout.agentSocket, { force: true });
    await release();
    process.exit(code);
  };
  const server = await serve(layout.agentSocket, {
    ping: async () => agent.ping(),
    status: () => agent.status(),
    apply: (params) => agent.apply(params),
    addons,
    shutdown: async (params) => {
      const result = await agent.shutdown(params.stopPods);
      // Answer first, then leave.
      setTimeout(() => void exit(0), 50);
      return result;
    },
  }, log);
  log(`agent ${process.pid} listening on ${layout.agentSocket}`);

  // Stopping the agent (SIGTERM) leaves the pods running for the next agent to adopt.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      log(`${signal}: leaving the pods running`);
      supervisor.detachAll();
      void exit(0);
    });
  }
  process.on('SIGHUP', () => undefined);
  process.on('uncaughtException', (err) => {
    log(`fatal: ${err.stack ?? err.message}`);
    supervisor.detachAll();
    void exit(1);
  });

  // A home removed under the agent (rm -rf instead of uninstall): stop everything it started and leave.
  const watchdog = setInterval(() => {
    void fs.access(layout.configFile).catch(async () => {
      clearInterval(watchdog);
      log('the mesh home is gone; stopping every process and exiting');
      await supervisor.stopAll();
      void exit(0);
    });
  }, 2000);

  await agent.start().catch((err: Error) => log(`start failed: ${err.stack ?? err.message}`));
  await addons().catch((err: Error) => log(`the addons could not start: ${err.message}`));

  // Certificates are renewed at half-life; looking every tenth of the lifetime renews each one well
  // before it expires, and a check never overlaps the previous one (renewals can wait on a busy proxy).
  const checkEveryMs = renewalCheckIntervalMs(agent.certificateLifetimeMs);
  const checkCertificates = () => {
    void agent.renewCertificates()
      .catch((err: Error) => log(`certificate renewal failed: ${err.message}`))
      .finally(() => setTimeout(checkCertificates, checkEveryMs));
  };
  setTimeout(checkCertificates, checkEveryMs);
}

void main().catch((err: Error) => {
  log(`agent failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
