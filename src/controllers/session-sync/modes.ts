// The one place a NAT44SessionSync mode name becomes its implementation. A
// fourth mode is a fourth file (implementing SyncMode, mode.ts) and one line here.
import type { NAT44SessionSyncSpec } from './schema.ts';
import type { ControllerContext } from '../controller.ts';
import { ConntrackdSyncMode, type ConntrackdModeDeps } from './conntrackd.ts';
import type { SyncMode } from './mode.ts';
import { SnapshotSyncMode } from './snapshot.ts';
import { StreamSyncMode } from './stream.ts';
import type { RoutedModeDeps } from './targets.ts';

export type ModeName = NAT44SessionSyncSpec['mode'];

export interface ModeDeps {
  readonly ctx: ControllerContext;
  /** snapshot and stream: local and remote hosts, sessions, log, metrics, status. */
  readonly routed: RoutedModeDeps;
  readonly makeEngine?: ConntrackdModeDeps['makeEngine'];
}

interface ModeEntry {
  /**
   * true: the mode runs only while spec.when holds (the controller stops it
   * otherwise: a backup must not push its stale sessions back). false: it runs
   * on every router and spec.when gives it the role.
   */
  readonly gated: boolean;
  readonly create: (id: string, name: string, deps: ModeDeps) => SyncMode;
}

export const SYNC_MODES: Readonly<Record<ModeName, ModeEntry>> = {
  snapshot: { gated: true, create: (id, _name, d) => new SnapshotSyncMode(id, d.routed) },
  stream: { gated: true, create: (id, _name, d) => new StreamSyncMode(id, d.routed) },
  conntrackd: { gated: false, create: (id, name, d) => new ConntrackdSyncMode(id, name, { ctx: d.ctx, ...(d.makeEngine ? { makeEngine: d.makeEngine } : {}) }) },
};
