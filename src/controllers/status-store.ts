// Resource statuses of one routerd instance. lastTransitionTime moves only when
// phase or reason changes; observers hear about changes that can open or shut
// a spec.when gate (phase, reason and the gateable fields), not about counters.
import { EventEmitter } from 'node:events';
import type { ResourceStatus } from './status.ts';
import { readField, type StatusLookup } from '../when/evaluate.ts';

/** Fields whose change can matter to another resource (spec.when, session sync selection). */
const SIGNIFICANT = ['phase', 'reason', 'role', 'snatAddress', 'snatAddresses', 'prefix'] as const;

export class StatusStore extends EventEmitter<{ change: [id: string] }> {
  private readonly statuses = new Map<string, ResourceStatus>();

  get(id: string): ResourceStatus | undefined {
    return this.statuses.get(id);
  }

  /** Replace a resource's status. */
  set(id: string, next: ResourceStatus, now = new Date()): ResourceStatus {
    const prev = this.statuses.get(id);
    const transitioned = !prev || prev.phase !== next.phase || prev.reason !== next.reason;
    const stored: ResourceStatus = {
      ...next,
      lastTransitionTime: transitioned ? now.toISOString() : prev.lastTransitionTime,
    };
    this.statuses.set(id, stored);
    if (!prev || SIGNIFICANT.some((f) => JSON.stringify(prev[f]) !== JSON.stringify(stored[f]))) this.emit('change', id);
    return stored;
  }

  /** Merge fields into a status (workers reporting progress between passes). */
  patch(id: string, fields: Partial<ResourceStatus> & Record<string, unknown>, now = new Date()): ResourceStatus | undefined {
    const prev = this.statuses.get(id);
    if (!prev) return undefined;
    return this.set(id, { ...prev, ...fields } as ResourceStatus, now);
  }

  delete(id: string): void {
    if (this.statuses.delete(id)) this.emit('change', id);
  }

  ids(): string[] {
    return [...this.statuses.keys()];
  }

  readonly lookup: StatusLookup = (kind, name, field) => readField(this.statuses.get(`${kind}/${name}`), field);
}
