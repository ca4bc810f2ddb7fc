// Running one controller the way the daemon does (observe, plan, reconcile)
// against a FakeHost, and writing down what it did to the host: the commands
// it ran (with their stdin), the processes it spawned, the files it wrote.
import type { AnyResource } from '../../src/api/kinds.ts';
import { standaloneContext, type Controller, type ReconcileOutcome } from '../../src/controllers/controller.ts';
import { observeAndPlan, reconcileInput } from '../../src/controllers/plan.ts';
import { StatusStore } from '../../src/controllers/status-store.ts';
import type { NodePaths } from '../../src/api/paths.ts';
import type { FakeHost } from '../../src/host/fake.ts';

export const PATHS = { stateDir: '/var/lib/routerd', runDir: '/run/routerd' };

// The conntrack helpers are found in build/ when scripts/setup built them, and
// the code falls back to `conntrack` when they are absent. A transcript must
// not depend on whether this checkout ran setup: it records the fallback (the
// FakeKernel models conntrack's own commands), on every machine.
process.env['ROUTERD_CT_DUMP'] = '/nonexistent/routerd-ct-dump';
process.env['ROUTERD_CT_DELETE'] = '/nonexistent/routerd-ct-delete';

/** Roles the daemon would report, by VirtualAddress name (others unknown). */
export type Roles = Record<string, string>;

export function reportedRoles(roles: Roles) {
  return (kind: string, name: string, field: string) => (kind === 'VirtualAddress' && field === 'role' ? roles[name] : undefined);
}

export interface PassRecord {
  readonly outcome: ReconcileOutcome;
  /** What the pass did to the host, a line each. */
  readonly lines: string[];
}

export class ControllerRun<C extends Controller> {
  readonly status = new StatusStore();
  readonly ctx;

  constructor(
    readonly controller: C,
    readonly host: FakeHost,
    readonly nodeName = 'ra',
    readonly paths: NodePaths = PATHS,
  ) {
    this.ctx = standaloneContext({ host, paths, nodeName, status: this.status });
  }

  /**
   * One daemon pass for this controller; only what reconcile does is recorded
   * (observing is the manager's). `until`: work the pass started outside it (a
   * sync worker's first push) is recorded too, up to when this holds.
   */
  async pass(resources: readonly AnyResource[], roles: Roles = {}, until?: () => boolean): Promise<PassRecord> {
    const { observed, plan } = await observeAndPlan(this.host, resources, { paths: this.paths, nodeName: this.nodeName, reported: reportedRoles(roles) });
    const calls = this.host.calls.length;
    const spawned = this.host.spawned.length;
    const written = this.host.written.length;
    const before = new Set(this.host.running.keys());
    const outcome = await this.controller.reconcile(reconcileInput(plan, this.controller, resources, observed) as never, this.ctx);
    for (const end = Date.now() + 10_000; until && !until(); ) {
      if (Date.now() > end) throw new Error('the work a pass started did not finish');
      await new Promise((r) => setTimeout(r, 5));
    }
    const lines = [
      ...this.host.calls.slice(calls).map((c) => `run ${c.argv.join(' ')}${c.stdin === undefined ? '' : `\n${indent(c.stdin)}`}`),
      ...this.host.spawned.slice(spawned).map((c) => `spawn ${c.argv.join(' ')}`),
      ...[...before].filter((pid) => !this.host.running.has(pid)).map((pid) => `stopped pid ${pid}`),
      ...this.host.written.slice(written).map((p) => `write ${p}`),
    ];
    return { outcome, lines };
  }
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `  | ${l}`)
    .join('\n');
}

/** A transcript file: each pass's title and lines. */
export function transcript(passes: readonly [string, PassRecord][]): string {
  return `${passes.map(([title, p]) => `# ${title} (${p.outcome.result})\n${p.lines.length ? p.lines.join('\n') : '(nothing)'}`).join('\n\n')}\n`;
}
