// Resource status: phases and reasons are stable strings (the contract that
// spec.when, scripts and operators read).
export const Phase = {
  Pending: 'Pending',
  Ready: 'Ready',
  Synced: 'Synced',
  Degraded: 'Degraded',
  Failed: 'Failed',
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/**
 * Every reason a status can give: a closed set (test/unit/reasons.test.ts
 * fails on a reason literal anywhere else). docs/api.md says what each means.
 */
export const Reason = {
  // Waiting
  WhenFalse: 'WhenFalse',
  SNATAddressPending: 'SNATAddressPending',
  SourceMissing: 'SourceMissing',
  InterfaceMissing: 'InterfaceMissing',
  NotObserved: 'NotObserved',
  Planned: 'Planned',
  NotReconciled: 'NotReconciled',
  ControllerDisabled: 'ControllerDisabled',
  Removed: 'Removed',
  RoleUnknown: 'RoleUnknown',
  Demoted: 'Demoted',
  PrefixPending: 'PrefixPending',
  Transitioning: 'Transitioning',
  NotSyncedYet: 'NotSyncedYet',
  Syncing: 'Syncing',
  // Done
  Applied: 'Applied',
  Synced: 'Synced',
  // Wrong
  ApplyFailed: 'ApplyFailed',
  ReconcileError: 'ReconcileError',
  EngineFailed: 'EngineFailed',
  EngineRestarted: 'EngineRestarted',
  VRRPFault: 'VRRPFault',
  HandoverTimedOut: 'HandoverTimedOut',
  FlowCleanupFailed: 'FlowCleanupFailed',
  TargetUnreachable: 'TargetUnreachable',
  TargetIsMaster: 'TargetIsMaster',
  SyncFailed: 'SyncFailed',
  SourceInvalid: 'SourceInvalid',
  DumpFailed: 'DumpFailed',
  SyncLinkUnresolved: 'SyncLinkUnresolved',
  EventOverrun: 'EventOverrun',
  EventsIncomplete: 'EventsIncomplete',
  TransitionFailed: 'TransitionFailed',
  StatsUnreadable: 'StatsUnreadable',
  ConfigInvalid: 'ConfigInvalid',
  Established: 'Established',
  NotEstablished: 'NotEstablished',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export interface ResourceStatus {
  readonly phase: Phase;
  readonly reason: Reason;
  readonly message: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime?: string;
  readonly [field: string]: unknown;
}
