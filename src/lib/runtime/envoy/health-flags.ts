// Envoy's per-host health flags (the names /clusters prints in `health_flags`) and what they mean for an
// operator: one EndpointHealth per endpoint, with the flags kept beside it.
import type { EndpointHealth } from '../model.js';

/** /clusters?format=json health_status booleans → the flag names of the text format. */
export const JSON_HEALTH_FLAGS: Record<string, string> = {
  failed_active_health_check: 'failed_active_hc',
  failed_outlier_check: 'failed_outlier_check',
  failed_active_degraded_check: 'degraded_active_hc',
  pending_dynamic_removal: 'pending_dynamic_removal',
  pending_active_hc: 'pending_active_hc',
  excluded_via_immediate_hc_fail: 'excluded_via_immediate_hc_fail',
  active_hc_timeout: 'active_hc_timeout',
};

/** The flag an EDS health_status sets on a host (HEALTHY and UNKNOWN set none). */
export function edsStatusFlag(status: string | null): string[] {
  switch (status) {
    case 'UNHEALTHY':
    case 'TIMEOUT':
      return ['failed_eds_health'];
    case 'DEGRADED':
      return ['degraded_eds_health'];
    case 'DRAINING':
      return ['eds_status_draining'];
    default:
      return [];
  }
}

const EJECTED = ['failed_outlier_check'];
const FAILING_CHECK = ['failed_active_hc', 'active_hc_timeout', 'excluded_via_immediate_hc_fail', 'pending_active_hc'];
const DOWN = ['failed_eds_health'];
const DRAINING = ['eds_status_draining', 'pending_dynamic_removal'];

/**
 * The one word for a host, when several flags are set: ejected by outlier detection first (traffic made it
 * fail), then a failing active health check, then the control plane calling it down, then draining.
 * Degraded hosts still take traffic: healthy, with the degraded flag kept.
 */
export function endpointHealthFromFlags(flags: readonly string[]): EndpointHealth {
  const has = (list: string[]) => flags.some((f) => list.includes(f));
  if (has(EJECTED)) return 'ejected';
  if (has(FAILING_CHECK)) return 'failing_health_check';
  if (has(DOWN)) return 'down';
  if (has(DRAINING)) return 'draining';
  return 'healthy';
}

/** Splits a text-format health_flags value ("healthy" or "/failed_active_hc/failed_outlier_check"). */
export function parseHealthFlags(value: string): string[] {
  const v = value.trim();
  if (v === '' || v === 'healthy') return [];
  return v.split('/').filter(Boolean);
}
