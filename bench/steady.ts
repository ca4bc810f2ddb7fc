// Issue 17: a reconcile pass that changes nothing should cost in proportion to
// the changes, not to the table. DHCP servers: every pass reads the lease file
// for status and metrics; with 10k leases, what a pass costs when the file is
// unchanged, against parsing it every pass (what routerd did before). Checked:
// every pass reports the right lease count. No root needed (a temp dir).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarizeLeaseFile } from '../src/controllers/dhcp-server/controller.ts';
import { activeLeaseCount, parseDnsmasqLeases } from '../src/engines/dnsmasq/leases.ts';
import { LocalHost } from '../src/host/local.ts';
import { median, ms, type BenchSection } from './results.ts';

const LEASES = 10_000;
const PASSES = 20;

function leaseFile(n: number, expires: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const b = [(i >> 16) & 255, (i >> 8) & 255, i & 255];
    lines.push(`${expires} 02:00:00:${b.map((x) => x.toString(16).padStart(2, '0')).join(':')} 10.${b.join('.')} host${i} *`);
  }
  return `${lines.join('\n')}\n`;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

export async function benchSteady(): Promise<BenchSection> {
  const dir = await mkdtemp(join(tmpdir(), 'routerd-steady-'));
  try {
    const host = new LocalHost();
    const path = join(dir, 'dnsmasq-lan.leases');
    const expires = Math.floor(Date.now() / 1000) + 3600;
    await writeFile(path, leaseFile(LEASES, expires));
    const ctx = { host };
    const check = (n: number | null, want: number) => {
      if (n !== want) throw new Error(`lease count ${String(n)}, want ${want}`);
    };
    const first = await timed(() => summarizeLeaseFile(ctx, path));
    check(first.value.leaseCount, LEASES);
    const unchanged: number[] = [];
    for (let i = 0; i < PASSES; i++) {
      const r = await timed(() => summarizeLeaseFile(ctx, path));
      check(r.value.leaseCount, LEASES);
      unchanged.push(r.ms);
    }
    // The previous code: read and parse on every pass.
    const parsing: number[] = [];
    for (let i = 0; i < PASSES; i++) {
      const r = await timed(async () => {
        const p = parseDnsmasqLeases((await host.readFile(path))!);
        return p.ok ? activeLeaseCount(p.leases) : null;
      });
      check(r.value, LEASES);
      parsing.push(r.ms);
    }
    // One lease renewed: the file differs, so the pass parses it again.
    await writeFile(path, leaseFile(LEASES, expires + 60));
    const changed = await timed(() => summarizeLeaseFile(ctx, path));
    check(changed.value.leaseCount, LEASES);
    return {
      name: 'steady',
      title: 'Steady state: a reconcile pass that changes nothing (DHCP servers, 10k leases)',
      method: `A DHCP server's status step, as every reconcile pass runs it: read the dnsmasq lease file (${LEASES} leases), count the active ones. Median of ${PASSES} passes, in process, file on local disk.`,
      header: ['pass', 'leases', 'time', 'checked'],
      rows: [
        ['first pass (parse)', String(LEASES), ms(first.ms), `${first.value.leaseCount} active`],
        ['pass, file unchanged (routerd now: read, compare with the last text, recount)', String(LEASES), ms(median(unchanged)), `${LEASES} active every pass`],
        ['pass, parsing every time (routerd before)', String(LEASES), ms(median(parsing)), `${LEASES} active every pass`],
        ['pass after the file changed (parse again)', String(LEASES), ms(changed.ms), `${changed.value.leaseCount} active`],
      ],
      notes: [
        `Unchanged pass / parsing pass = ${(median(unchanged) / median(parsing)).toFixed(2)}×. What is left scales with the file's bytes (one read and one string compare, ~0.7 MB here), not with parsing its lines.`,
        'NAT44Rule at 100k flows: a pass that changes nothing reads the table digest and the applied state, no flow (bench reconfig, "re-apply the same config"). StatelessNAT44 at 10k mappings: bench stateless. NAT44SessionSync: a pass compares the spec and the selected addresses with the running worker and runs no command (src/controllers/session-sync/controller.ts); the sync traffic itself is the worker\'s, by its mode and interval (bench session-sync).',
      ],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
