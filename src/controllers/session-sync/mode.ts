// What a session sync mode is to the NAT44SessionSync controller: something it
// brings in line with each pass (level-based) and stops. conntrackd implements
// it today; snapshot and stream (worker.ts) move behind it in a later step, so
// a fourth mode would be a fourth file.
import type { NAT44SessionSyncSpec } from '../../api/nat.ts';
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
  update(input: SyncModeInput): Promise<ReconcileOutcome>;
  /** keepEngines: leave a supervised daemon running (a routerd restart). */
  stop(opts: { keepEngines: boolean }): Promise<void>;
}
