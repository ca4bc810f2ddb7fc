// What a session sync mode is to the NAT44SessionSync controller: something it
// brings in line with each pass (level-based) and stops. snapshot.ts,
// stream.ts and conntrackd.ts implement it; modes.ts is the one list of them.
import type { NAT44SessionSyncSpec } from './schema.ts';
import type { ReconcileOutcome } from '../controller.ts';
import type { Observed, PlanContext } from '../types.ts';

/** The VRRP role a mode follows, from the VirtualAddress status that spec.when reads. */
export type SyncRole = 'master' | 'backup' | 'fault' | 'unknown';

export interface SyncModeInput {
  readonly spec: NAT44SessionSyncSpec;
  /** The selected SNAT addresses (empty while a NAT44Rule has none yet). */
  readonly addresses: readonly string[];
  readonly role: SyncRole;
  /** The pass's context and what the host showed (interfaces, for addresses the mode must know). */
  readonly planCtx: PlanContext;
  readonly observed: Observed;
}

export interface SyncMode {
  readonly mode: NAT44SessionSyncSpec['mode'];
  /** Make the mode match the input: start it, adapt it, or leave it as it is. */
  /** What the pass should do next (a daemon in its restart backoff asks for a requeue); nothing means ok. */
  update(input: SyncModeInput): Promise<ReconcileOutcome | void>;
  /** keepEngines: leave a supervised daemon running (a routerd restart). */
  stop(opts: { keepEngines: boolean }): Promise<void>;
  /**
   * Start nothing new and resolve once every batch already sent has landed;
   * the next update() starts again. The controller calls it before pruning an
   * address that left the selection: a batch dumped before that address's
   * flows were deleted would otherwise land after the prune and put them back.
   */
  quiesce?(): Promise<void>;
}

/** An input for a mode run outside the controller (benches, tests): master, nothing observed. */
export function standaloneInput(spec: NAT44SessionSyncSpec, addresses: readonly string[], role: SyncRole = 'master'): SyncModeInput {
  return {
    spec,
    addresses,
    role,
    planCtx: { resources: [], ifname: (x) => x, paths: { stateDir: '/var/lib/routerd', runDir: '/run/routerd' }, status: () => undefined, nodeName: 'standalone' },
    observed: { files: new Map(), existing: new Set<string>() },
  };
}
