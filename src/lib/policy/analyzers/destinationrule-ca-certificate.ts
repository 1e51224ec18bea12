// destinationrule.CaCertificateAnalyzer: TLS origination (SIMPLE or MUTUAL) without caCertificates does not
// verify the server's certificate, at the destination level (IST0128) or for one port (IST0129).
import type { Analyzer } from '../analysis.js';
import { K } from '../kinds.js';
import { listOf, objectOf, specOf, type Mistyped, type DestinationRuleSpecTrafficPolicyTls, type DestinationRuleSpecTrafficPolicyPortLevelSettingsPort } from '../spec.js';

/** ClientTLSSettings.TLSmode names by number, as protobuf reads either form. */
const TLS_MODES = ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'];

function modeName(mode: unknown): string | undefined {
  if (typeof mode === 'number') return TLS_MODES[mode];
  return typeof mode === 'string' ? mode : undefined;
}

/** The mode, when it originates TLS that should verify the server and nothing lets it (no caCertificates, no credentialName on a selected workload). */
function unverifiedMode(tls: DestinationRuleSpecTrafficPolicyTls, hasWorkloadSelector: boolean): string | undefined {
  const mode = modeName(tls.mode);
  if (mode !== 'SIMPLE' && mode !== 'MUTUAL') return undefined;
  if (typeof tls.caCertificates === 'string' && tls.caCertificates !== '') return undefined;
  // A credentialName on a DestinationRule bound to workloads (a gateway) carries the CA in its secret.
  if (typeof tls.credentialName === 'string' && tls.credentialName !== '' && hasWorkloadSelector) return undefined;
  return mode;
}

function portLabel(port: DestinationRuleSpecTrafficPolicyPortLevelSettingsPort | Mistyped | undefined): string {
  const number = objectOf(port).number;
  return number === undefined ? 'an unnumbered port' : `port ${String(number)}`;
}

export const destinationRuleCaCertificate: Analyzer = {
  name: 'destinationrule.CaCertificateAnalyzer',
  description: 'Checks that DestinationRules originating TLS (SIMPLE or MUTUAL) set caCertificates, so the server certificate is verified',
  inputs: [K.DestinationRule],
  codes: ['IST0128', 'IST0129'],
  run(ctx) {
    for (const dr of ctx.of(K.DestinationRule)) {
      const spec = specOf(dr, K.DestinationRule);
      const host = typeof spec.host === 'string' ? spec.host : '';
      const selected = spec.workloadSelector !== undefined && spec.workloadSelector !== null;
      const policy = objectOf(spec.trafficPolicy);
      const mode = unverifiedMode(objectOf(policy.tls), selected);
      if (mode) {
        ctx.report(
          'IST0128',
          dr,
          '/spec/trafficPolicy/tls/caCertificates',
          `DestinationRule ${dr.name} originates ${mode} TLS to ${host} without caCertificates, so the server certificate is not verified; set trafficPolicy.tls.caCertificates.`,
        );
      }
      listOf(policy.portLevelSettings).forEach((setting, i) => {
        const s = objectOf(setting);
        const portMode = unverifiedMode(objectOf(s.tls), selected);
        if (!portMode) return;
        ctx.report(
          'IST0129',
          dr,
          `/spec/trafficPolicy/portLevelSettings/${i}/tls/caCertificates`,
          `DestinationRule ${dr.name} originates ${portMode} TLS to ${host} on ${portLabel(s.port)} without caCertificates, so the server certificate is not verified; set caCertificates in that port's tls settings.`,
        );
      });
    }
  },
};
