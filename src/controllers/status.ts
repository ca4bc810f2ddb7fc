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

export const Reason = {
  WhenFalse: 'WhenFalse',
  SNATAddressPending: 'SNATAddressPending',
  SourceMissing: 'SourceMissing',
  InterfaceMissing: 'InterfaceMissing',
  TargetUnreachable: 'TargetUnreachable',
  SyncFailed: 'SyncFailed',
  Applied: 'Applied',
  ApplyFailed: 'ApplyFailed',
  EngineMissing: 'EngineMissing',
  EngineFailed: 'EngineFailed',
  EngineRestarted: 'EngineRestarted',
  NotObserved: 'NotObserved',
  Synced: 'Synced',
  Planned: 'Planned',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export interface ResourceStatus {
  readonly phase: Phase;
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime?: string;
  readonly [field: string]: unknown;
}
