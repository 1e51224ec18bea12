// What the addon commands report, whichever addon they enable.

/** The addons a mesh can run beside itself. */
export const ADDONS = ['prometheus', 'tracing'] as const;
export type AddonName = (typeof ADDONS)[number];

export interface AddonStep {
  description: string;
  commands: string[];
  done: boolean;
}

export interface AddonEnableResult {
  addon: AddonName;
  /** enabled: now; already-enabled: nothing to do; planned: --dry-run. */
  status: 'enabled' | 'already-enabled' | 'planned';
  steps: AddonStep[];
  url: string | null;
  bin: string | null;
  version: string | null;
  installedNow: boolean;
}
