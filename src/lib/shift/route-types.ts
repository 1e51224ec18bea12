// The route a shift moves, as a VirtualService http route or an HTTPRoute rule names it, and what
// resolving it finds (route.ts for VirtualServices, http-route.ts for HTTPRoutes).
import type { Weights } from './plan.js';

export interface ShiftRoute {
  /** Fully qualified host. */
  host: string;
  /** HOST as the user wrote it (for the commands a shift prints). */
  hostArg: string;
  /** Namespace HOST was resolved in. */
  namespace: string;
  virtualService: { namespace: string; name: string };
  /** Position of the shifted route in the VirtualService's http list, not counting a canary route. */
  index: number;
  /** The route's name ('' when unnamed). */
  name: string;
  from: string;
  to: string;
  /** The route's subsets in destination order, the new subset included. */
  destinations: string[];
  /** For an HTTPRoute shift: the route and rule shifted (its backend names take the place of subsets). */
  httpRoute?: { namespace: string; name: string; rule: number };
  /** For an HTTPRoute shift: backend host → backend name. */
  backends?: Record<string, string>;
}

export interface ResolvedShift {
  route: ShiftRoute;
  /** The route's weights in the applied VirtualService now (the new subset at 0 when it is not a destination yet). */
  baseline: Weights;
  /** True when the new subset is not yet a destination of the route (the shift adds it at weight 0 first). */
  addsDestination: boolean;
  /** Subsets the DestinationRule defines. */
  subsets: string[];
  /** True when the shifted route already mirrors traffic (`mirror` or `mirrors`). */
  mirrored: boolean;
}

export interface ResolveOptions {
  host: string;
  namespace: string;
  to: string;
  from?: string;
  /** A route name or http index when the VirtualService has several candidates. */
  route?: string;
  /** The pods that run (a cluster's); absent: the pods the applied Workloads ask for. */
  pods?: { namespace: string; labels: Record<string, string> }[];
}

/** What to do when the new subset or backend selects no pod, on either kind of mesh. */
export function deployPodsHint(options: ResolveOptions): string {
  return options.pods ? 'deploy its pods' : 'apply its Workload';
}
