// The text of the addon commands (addons enable|disable, dashboard, install --with).
import type { AddonEnableResult } from './prometheus.js';

export function addonText(r: AddonEnableResult): string {
  const lines: string[] = [];
  if (r.status === 'planned') {
    lines.push(`Plan for the ${r.addon} addon (dry run: nothing was changed):`);
    for (const [i, s] of r.steps.entries()) {
      lines.push(`  ${i + 1}. ${s.description}`);
      for (const c of s.commands) lines.push(`       $ ${c}`);
    }
  } else {
    const how = r.status === 'already-enabled' ? 'was already enabled; it runs' : `enabled${r.installedNow ? ' (installed now)' : ''}`;
    if (r.addon === 'tracing') {
      lines.push(`✓ tracing ${r.status === 'already-enabled' ? 'was already enabled' : 'enabled'}: ${r.url ? `spans go to ${r.url}` : 'spans are not exported'}`);
      for (const s of r.steps) lines.push(`  ${s.description}`);
    } else {
      lines.push(`✓ ${r.addon} ${how}: Prometheus ${r.version} at ${r.bin}, serving ${r.url}`);
      lines.push(`Next: meshctl dashboard ${r.addon}, or query istio_requests_total there.`);
    }
  }
  return `${lines.join('\n')}\n`;
}
