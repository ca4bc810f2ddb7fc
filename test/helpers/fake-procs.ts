import type { ProcessTable } from '../../src/host/host.ts';

/** A process table for engines under test: every pid lives until killed; kills are recorded. */
export class FakeProcs implements ProcessTable {
  readonly killed: [number, string][] = [];
  readonly dead = new Set<number>();
  readonly cmdlines = new Map<number, string[]>();
  alive(pid: number): boolean {
    return !this.dead.has(pid);
  }
  async cmdline(pid: number): Promise<string[] | undefined> {
    return this.cmdlines.get(pid);
  }
  kill(pid: number, signal: NodeJS.Signals): void {
    this.killed.push([pid, signal]);
    this.dead.add(pid);
  }
}
