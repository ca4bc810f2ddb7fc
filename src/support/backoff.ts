// The one exponential backoff: 1 s doubling to 30 s unless told otherwise.
// The manager's retries after a failed reconcile, a supervised daemon's
// restarts and a sync target's retries all wait by it.

export const MIN_BACKOFF_MS = 1000;
export const MAX_BACKOFF_MS = 30_000;

/** The wait before attempt `failures + 1` after `failures` failures in a row (failures >= 1). */
export function backoffDelay(failures: number, minMs = MIN_BACKOFF_MS, maxMs = MAX_BACKOFF_MS): number {
  return Math.min(maxMs, minMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
}

export class Backoff {
  private failures = 0;

  constructor(
    private readonly minMs = MIN_BACKOFF_MS,
    private readonly maxMs = MAX_BACKOFF_MS,
  ) {}

  /** Record a failure; returns how long to wait before the next attempt. */
  fail(): number {
    this.failures++;
    return backoffDelay(this.failures, this.minMs, this.maxMs);
  }

  /** A success (or a long healthy run): the next failure waits the minimum again. */
  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}
