import { Args, Flags } from '@oclif/core';
import { MeshctlCommand, jsonFlag, outputFlag } from '../../lib/cli/base.js';
import { durationFlag, optionalDurationFlag } from '../../lib/cli/duration-flag.js';
import { usageError } from '../../lib/errors.js';
import { canPrompt } from '../../lib/output/prompt.js';
import { homeFlag } from '../../lib/mesh/home-flag.js';
import { openTarget, targetFlags, targetFlagsText, targetKind } from '../../lib/target/open.js';
import type { ShiftOutcome } from '../../lib/shift/shift.js';

const PLAN_FLAGS = ['to', 'from', 'route', 'route-kind', 'steps', 'step-weight', 'max-weight', 'interval', 'header', 'mirror', 'min-success-rate', 'max-latency-p99', 'min-requests', 'failure-threshold', 'on-no-traffic', 'gate'] as const;

export default class RouteShift extends MeshctlCommand {
  static override summary = 'Move traffic from a stable subset to a new one step by step, gated on live proxy stats, rolling back by itself.';

  static override description = `HOST is a VirtualService host (reviews, reviews.default, or its full name); the http route whose destinations are HOST's subsets is shifted (--route chooses when there are several), from --from (default: the subset holding the most traffic now) to --to, which joins the route at weight 0 when it is not a destination yet.

At each step the new weights go to every sidecar through its runtime API (no reload) and into the applied VirtualService; after --interval the access logs of every proxy that routes HOST give the new subset's requests, success rate (non-5xx / total) and p99 latency, and the gates decide: next step, the same step again (a failed check, until --failure-threshold), hold, or roll back to the stable subset. Fewer than --min-requests requests is "not enough traffic", never a failure: --on-no-traffic says what follows. --header NAME=VALUE adds a first step where only requests with that header reach the new subset. --mirror adds a first step where the weights stay as they are and every request of the route is also copied to the new subset (fire-and-forget, its Host suffixed -shadow; callers only get the stable subset's answers): the gates judge the new subset on those copies, and the next step, a rollback or an abort takes the mirror off.

The shift's state is written to the mesh home before and after every change of weights: after Ctrl-C (hold, or roll back when asked on a terminal), a crash or kill -9, every sidecar serves weights of the plan, meshctl route status shows which, and --resume continues. A second shift of the same HOST is refused while one is in progress.

An HTTPRoute attached to HOST's Service (parentRefs kind Service) is shifted the same way, with --route-kind httproute or when no VirtualService routes HOST: --to and --from name backend Services (e.g. --to reviews-v2), --route a rule's index, and the rule's backendRefs weights are written as percentages summing to 100 (proportions are kept: 1/1 becomes 50/50, and an abort puts back 50/50); --header and --mirror are for VirtualServices only.

On a cluster (--target kubernetes, --context or --kubeconfig) the weights go to the VirtualService or HTTPRoute by server-side apply with the shift's record in its annotation, and the gates read Prometheus (--prometheus-url, else Istio's own) or, with --metrics envoy or when no Prometheus answers, the calling pods' Envoy sidecars.

-o json streams one JSON object per event (planned, step, analysis, hold, promoted, rolled_back, aborted) on stdout and nothing else (-o yaml: one YAML document per event); progress goes to stderr.

Exit codes: 0 promoted (the plan's last weight reached); 1 rolled back or aborted (the reason is printed); 2 usage or input error (unknown host or subset, no route to shift, a shift already in progress, --mirror on a route that mirrors already, --manual without a terminal); 3 environment error (mesh not installed, a proxy unreachable, proxies disagreeing with the applied VirtualService); 4 held (not enough traffic with --on-no-traffic hold, a manual step without an answer, or an apply --force that changed its route); 130 interrupted.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> reviews --to v2',
    '<%= config.bin %> <%= command.id %> reviews --to v2 --steps 5,10,25,50,100 --interval 1m --min-success-rate 99.5 --max-latency-p99 300ms',
    '<%= config.bin %> <%= command.id %> reviews --to v2 --step-weight 20 --max-weight 50 --dry-run',
    '<%= config.bin %> <%= command.id %> reviews --to v2 --header end-user=jason --steps 10,50,100',
    '<%= config.bin %> <%= command.id %> reviews --to v2 --mirror --steps 10,50,100',
    '<%= config.bin %> <%= command.id %> reviews --to v2 --manual',
    '<%= config.bin %> <%= command.id %> reviews --to v2 -o json > shift.ndjson',
    '<%= config.bin %> <%= command.id %> reviews --to reviews-v2 --route-kind httproute --steps 10,50,100',
    '<%= config.bin %> <%= command.id %> reviews --resume',
  ];

  static override args = {
    host: Args.string({ description: 'The VirtualService host to shift (e.g. reviews).', required: true }),
  };

  static override flags = {
    to: Flags.string({ summary: 'The subset to move traffic to.', helpValue: 'SUBSET' }),
    from: Flags.string({ summary: 'The stable subset to move traffic from (default: the one holding the most traffic now).', helpValue: 'SUBSET' }),
    route: Flags.string({ summary: "Which http route of the VirtualService (its name or index), when several route to HOST's subsets.", helpValue: 'NAME|INDEX' }),
    'route-kind': Flags.option({ summary: 'Shift the host\'s VirtualService or the HTTPRoute attached to its Service (default: the VirtualService, else the HTTPRoute).', options: ['virtualservice', 'httproute'] as const })(),
    steps: Flags.string({ summary: "The new subset's weight at each step, e.g. 5,10,25,50,100.", helpValue: 'LIST', exclusive: ['step-weight', 'max-weight'] }),
    'step-weight': Flags.integer({ summary: 'Weight added at each step (default 20); the last step is exactly --max-weight.', helpValue: 'N' }),
    'max-weight': Flags.integer({ summary: "The new subset's weight at the last step (default 100).", helpValue: 'N' }),
    interval: durationFlag({ summary: 'Time at each step before its analysis (default 30s).' }),
    header: Flags.string({ summary: 'A first step that sends only requests with this header to the new subset.', helpValue: 'NAME=VALUE' }),
    mirror: Flags.boolean({ summary: 'A first step that mirrors traffic to the new subset.' }),
    'min-success-rate': Flags.string({ summary: 'Lowest success rate (non-5xx / total, %) of the new subset (default 99).', helpValue: 'PERCENT' }),
    'max-latency-p99': optionalDurationFlag({ summary: "Highest p99 latency of the new subset (default 500ms; 'none' for no latency gate)." }),
    'min-requests': Flags.integer({ summary: 'Requests the new subset needs in an interval to be judged (default 20).', helpValue: 'N' }),
    'failure-threshold': Flags.integer({ summary: 'Failed checks before rolling back (default 1).', helpValue: 'N' }),
    'on-no-traffic': Flags.option({ summary: 'What follows "not enough traffic" (default hold).', options: ['hold', 'continue', 'rollback'] as const })(),
    gate: Flags.string({ summary: 'A PromQL gate beside the others, NAME=QUERY<THRESHOLD (or >, <=, >=); {{interval}}, {{namespace}} and {{target}} in the query are the window, the namespace and the new subset\'s workloads. Repeatable; needs Prometheus.', helpValue: 'NAME=PROMQL<N', multiple: true }),
    metrics: Flags.option({ summary: "Where the gates read the figures: the mesh's Prometheus (Flagger's Istio queries), the access logs (local mesh), the calling pods' Envoy sidecars (cluster), or auto: Prometheus when one runs, else the access logs or the sidecars (default).", options: ['auto', 'prometheus', 'access-log', 'envoy'] as const })(),
    'prometheus-url': Flags.string({ summary: 'The Prometheus to query with --metrics prometheus (default: the one meshctl addons enable prometheus runs).', helpValue: 'URL' }),
    manual: Flags.boolean({ summary: 'Ask before each step (continue, hold or roll back); needs a terminal.' }),
    yes: Flags.boolean({ char: 'y', summary: 'Never ask (no confirmation, no question on Ctrl-C).' }),
    'dry-run': Flags.boolean({ summary: 'Print the plan, the time to promote and the time to roll back; change nothing.' }),
    resume: Flags.boolean({ summary: 'Continue the recorded shift of HOST from what the proxies serve.' }),
    namespace: Flags.string({ char: 'n', summary: 'Namespace HOST is resolved in (default "default").' }),
    home: homeFlag,
    ...targetFlags,
    output: outputFlag(['text', 'json', 'yaml'] as const),
    json: jsonFlag,
  };

  async run(): Promise<ShiftOutcome | null> {
    const { args, flags } = await this.parse(RouteShift);
    const format = this.format(flags);
    const plan = await import('../../lib/shift/plan.js');
    const { parseGateFlag } = await import('../../lib/shift/custom-gates.js');

    if (flags.resume) {
      const given = PLAN_FLAGS.filter((f) => flags[f] !== undefined && flags[f] !== false);
      if (given.length) throw usageError(`--resume continues the recorded plan, so --${given[0]} cannot change it; drop --${given[0]}, or abort the shift and start another.`);
      if (flags['dry-run']) throw usageError('--resume and --dry-run do not go together: meshctl route status shows where a recorded shift is.');
    }
    if (!flags.resume && flags.to === undefined) throw usageError(`Name the subset to shift ${args.host}'s traffic to with --to (e.g. --to v2), or continue a recorded shift with --resume.`);
    if (flags.manual && flags.yes) throw usageError('--manual asks before every step and --yes never asks; choose one of them.');
    if (flags.manual && !flags['dry-run'] && !canPrompt()) {
      throw usageError(`--manual asks before every step, and there is no terminal to ask on; drop --manual to let the gates decide, or move a shift on from a pipeline with meshctl route promote ${args.host}.`);
    }
    let successRate: number | undefined;
    if (flags['min-success-rate'] !== undefined) {
      const text = flags['min-success-rate'].replace(/%$/, '');
      successRate = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
      if (!(successRate >= 0 && successRate <= 100)) throw usageError(`--min-success-rate ${flags['min-success-rate']} is not a percentage from 0 to 100 (e.g. 99 or 99.5).`);
    }
    const planInput = {
      steps: flags.steps !== undefined ? plan.parseStepList(flags.steps) : undefined,
      stepWeight: flags['step-weight'],
      maxWeight: flags['max-weight'],
      header: flags.header !== undefined ? plan.parseHeaderMatch(flags.header) : undefined,
      mirror: flags.mirror,
      intervalMs: flags.interval,
      gates: {
        ...(successRate !== undefined ? { minSuccessRate: successRate } : {}),
        ...(flags['max-latency-p99'] !== undefined ? { maxLatencyP99Ms: flags['max-latency-p99'] } : {}),
        ...(flags['min-requests'] !== undefined ? { minRequests: flags['min-requests'] } : {}),
        ...(flags['failure-threshold'] !== undefined ? { failureThreshold: flags['failure-threshold'] } : {}),
        ...(flags['on-no-traffic'] !== undefined ? { onNoTraffic: flags['on-no-traffic'] } : {}),
        ...(flags.gate?.length ? { custom: flags.gate.map(parseGateFlag) } : {}),
      },
    };
    if (!flags.resume) plan.buildPlan(planInput);

    const onCluster = targetKind({ ...flags, namespace: undefined }) === 'kubernetes';
    if (onCluster && flags.metrics === 'access-log') throw usageError('--metrics access-log reads the local mesh\'s access logs; on a cluster the gates read Prometheus or the calling pods\' Envoy sidecars (--metrics prometheus, envoy or auto).');
    if (!onCluster && flags.metrics === 'envoy') throw usageError('--metrics envoy reads the Envoy sidecars of a cluster\'s calling pods; on the local mesh the gates read Prometheus or the access logs (--metrics prometheus, access-log or auto).');
    const mesh = await openTarget(flags);
    const { runShift, exitCodeOf } = await import('../../lib/shift/shift.js');
    const { shiftConsole } = await import('../../lib/shift/interactive.js');
    const terminal = shiftConsole({ format, yes: flags.yes, manual: flags.manual });
    terminal.listen();
    const commonFlags = [flags.home ? `--home ${flags.home}` : '', targetFlagsText(flags), flags.namespace && flags.namespace !== 'default' ? `-n ${flags.namespace}` : ''].filter(Boolean).join(' ');
    try {
      const outcome = await runShift({
        mesh,
        host: args.host,
        namespace: flags.namespace ?? 'default',
        to: flags.to,
        from: flags.from,
        route: flags.route,
        routeKind: flags['route-kind'],
        plan: planInput,
        manual: flags.manual,
        dryRun: flags['dry-run'],
        resume: flags.resume,
        commonFlags,
        signal: terminal.signal,
        // On a cluster the target chooses and reads the gates' metrics itself (--metrics and --prometheus-url went to it).
        ...(onCluster
          ? {}
          : { metrics: flags['prometheus-url'] && !flags.metrics ? 'prometheus' : flags.metrics as 'auto' | 'prometheus' | 'access-log' | undefined, prometheusUrl: flags['prometheus-url'] }),
      }, terminal.hooks);
      if (outcome.result) this.finish(exitCodeOf(outcome.result));
      return outcome;
    } finally {
      terminal.close();
    }
  }
}
