// The lab demo (`npm run demo`): two routers in network namespaces, hardened
// like real ones, run `routerd serve` with examples/lab/router-{a,b}.yaml (VRRP,
// SNAT, NAT44 session sync, DHCPv4/DHCPv6 with lease sync). A client gets its
// addresses by DHCP and keeps TCP and UDP flows echoing through the master;
// then the master dies like a machine (links dark, processes killed). The
// report says what the kernel did: which flows kept echoing, which addresses
// the client kept, how long the takeover took.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ChildHandle } from '../host/host.ts';
import { saveDemoTimeline, type FlowTrace } from './demo-timeline.ts';
import type { TimelineMarker } from './timeline-svg.ts';
import { leasedAddresses, startDhcpClient } from './dhcp-client.ts';
import { hardenRouter } from './harden.ts';
import { killKeepalived, LAB_RUN_DIR, ROUTERCTL_BIN, startRouterd, type RouterdProcess } from './routerd.ts';
import { enableLabSsh, type LabSsh } from './sshd.ts';
import { demoFailback } from './demo-failback.ts';
import { createLab, labPrefix, type Lab } from './topology.ts';
import { probeTcp, reached, startEchoFlows, startTcpEchoServer, type EchoFlows, type EchoServer } from './traffic.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CONFIGS = { ra: `${REPO}examples/lab/router-a.yaml`, rb: `${REPO}examples/lab/router-b.yaml` } as const;
const SERVER = '198.51.100.200';
const PORT = 7007;
const TCP_FLOWS = 100;
const UDP_FLOWS = 20;

interface Step {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

// The report's lines, kept for report.txt beside the SVG timeline (ROUTERD_DEMO_OUT, default demo-out/).
const OUT_DIR = process.env.ROUTERD_DEMO_OUT ?? `${REPO}demo-out`;
const printed: string[] = [];
const say = (s = '') => {
  printed.push(s);
  process.stdout.write(`${s}\n`);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(fn: () => Promise<T | undefined | false>, timeoutMs: number, stepMs = 100): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    await sleep(stepMs);
  }
  return undefined;
}

async function routerctl(lab: Lab, node: 'ra' | 'rb', args: readonly string[]): Promise<string> {
  const r = await lab.nodes[node].host.run([process.execPath, ROUTERCTL_BIN, ...args], { timeoutMs: 60_000 });
  return (r.stdout + r.stderr).trimEnd();
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    say('The lab demo needs root (network and mount namespaces): run it as root, e.g. `sudo npm run demo`.');
    return 1;
  }
  const steps: Step[] = [];
  const step = (name: string, ok: boolean, detail: string) => {
    steps.push({ name, ok, detail });
    say(`${ok ? '  ✔' : '  ✘'} ${name}: ${detail}`);
  };
  const prefix = labPrefix('demo');
  say(`routerd lab demo — namespaces ${prefix}*\n`);
  const t0 = performance.now();
  const lab = await createLab({ prefix });
  let ssh: LabSsh | undefined;
  let server: EchoServer | undefined;
  let dhcp: ChildHandle | undefined;
  const flows: EchoFlows[] = [];
  const procs: Record<'ra' | 'rb', RouterdProcess | undefined> = { ra: undefined, rb: undefined };
  // What the SVG timeline draws. A later phase (a failback) adds to it: the log
  // lines of each routerd it starts, when a router was down, its own markers.
  const trace = {
    start: Date.now(),
    logs: { ra: [] as RouterdProcess['logs'][], rb: [] as RouterdProcess['logs'][] },
    down: { ra: [] as { from: number; to?: number }[], rb: [] as { from: number; to?: number }[] },
    markers: [] as TimelineMarker[],
    flowsAt: 0,
    flows: [] as FlowTrace[],
  };
  try {
    step('lab', true, `client — LAN 192.0.2.0/24 — routers A and B — WAN 198.51.100.0/24 — server, up in ${Math.round(performance.now() - t0)} ms`);
    ssh = await enableLabSsh(lab);
    for (const node of ['ra', 'rb'] as const) {
      await lab.nodes[node].host.writeFileAtomic('/etc/routerd/router.yaml', await readFile(CONFIGS[node], 'utf8'));
      await hardenRouter(lab.nodes[node]);
    }
    step('routers hardened', true, 'forward policy drop, ct state invalid drop, nf_conntrack_tcp_loose=0; ssh between them with host-key checking on');

    say('\n== routerctl validate and plan on router A (before routerd runs)');
    say(await routerctl(lab, 'ra', ['validate']));
    say(await routerctl(lab, 'ra', ['plan', '--node', 'ra']));

    say('\n== routerd serve on both routers');
    procs.ra = await startRouterd(lab.nodes.ra);
    procs.rb = await startRouterd(lab.nodes.rb);
    trace.start = Date.now();
    trace.logs.ra.push(procs.ra.logs);
    trace.logs.rb.push(procs.rb.logs);
    const roles = await until(async () => {
      const a = await procs.ra!.resource('VirtualAddress/lan-vip');
      const b = await procs.rb!.resource('VirtualAddress/lan-vip');
      return a?.status.role === 'master' && b?.status.role === 'backup' ? true : undefined;
    }, 20_000);
    step('VRRP', roles === true, roles ? 'A is master (VIP 192.0.2.1, SNAT 198.51.100.100), B is backup' : 'roles did not settle');

    dhcp = await startDhcpClient(lab);
    const leased = await until(async () => {
      const a = await leasedAddresses(lab);
      return a.v4 && a.v6 ? a : undefined;
    }, 45_000, 250);
    step('DHCP', leased !== undefined, leased ? `the client leased ${leased.v4} and ${leased.v6} from A's dnsmasq` : 'no lease');

    server = await startTcpEchoServer(lab.nodes.server, PORT);
    trace.flowsAt = Date.now();
    trace.markers.push({ at: trace.flowsAt, label: 'flows start' });
    const tcp = await startEchoFlows(lab.nodes.client, { target: SERVER, port: PORT, protocol: 'tcp', count: TCP_FLOWS, intervalMs: 100, durationMs: 180_000 });
    flows.push(tcp);
    const udp = await startEchoFlows(lab.nodes.client, { target: SERVER, port: PORT, protocol: 'udp', count: UDP_FLOWS, intervalMs: 100, durationMs: 180_000 });
    flows.push(udp);
    step('flows', tcp.ready.established === TCP_FLOWS && udp.ready.established === UDP_FLOWS, `${tcp.ready.established} TCP and ${udp.ready.established} UDP flows echo every 100 ms through A's SNAT`);

    const since = new Date().toISOString();
    const warm = await until(async () => {
      const s = await procs.ra!.resource('NAT44SessionSync/lan-sessions');
      const l4 = await procs.ra!.resource('DHCPv4ServerLeaseSync/lan-v4-leases');
      const l6 = await procs.ra!.resource('DHCPv6ServerLeaseSync/lan-v6-leases');
      const fresh = (r: typeof s) => r?.status.phase === 'Synced' && String(r.status.lastSyncTime ?? '') > since;
      return fresh(s) && Number(s?.status.localEntries) >= TCP_FLOWS + UDP_FLOWS && fresh(l4) && fresh(l6) ? true : undefined;
    }, 30_000);
    step('standby warm', warm === true, warm ? 'sessions and both lease files synced to B' : 'sync did not complete');
    say('\n== routerctl describe NAT44SessionSync/lan-sessions (router A)');
    say(await routerctl(lab, 'ra', ['describe', 'NAT44SessionSync/lan-sessions', '--run-dir', LAB_RUN_DIR]));
    say('\n== routerctl describe DHCPv4ServerLeaseSync/lan-v4-leases (router A)');
    say(await routerctl(lab, 'ra', ['describe', 'DHCPv4ServerLeaseSync/lan-v4-leases', '--run-dir', LAB_RUN_DIR]));

    say('\n== Router A dies: links dark, routerd, keepalived and dnsmasq killed');
    const dnsmasqPids = await Promise.all(
      ['dhcpv4-server-lan-dhcpv4', 'dhcpv6-server-lan-dhcpv6'].map(async (n) => Number((await lab.nodes.ra.host.readFile(`${LAB_RUN_DIR}/dnsmasq/${n}.pid`))?.trim())),
    );
    const killedAt = Date.now();
    trace.down.ra.push({ from: killedAt });
    trace.markers.push({ at: killedAt, label: 'A dies' });
    await lab.linkDown('sw', 'ra-lan');
    await lab.linkDown('sw', 'ra-wan');
    procs.ra.child.kill('SIGKILL');
    await killKeepalived(lab.nodes.ra);
    for (const pid of dnsmasqPids)
      if (Number.isInteger(pid))
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
    procs.ra = undefined;
    const master = await until(async () => ((await procs.rb!.resource('VirtualAddress/lan-vip'))?.status.role === 'master' ? Date.now() : undefined), 15_000, 20);
    if (master) trace.markers.push({ at: master, label: 'B master' });
    step('takeover', master !== undefined, master ? `B is master ${master - killedAt} ms after A died` : 'B did not take over');
    await sleep(4000);
    const [t1, u1] = await Promise.all([tcp.snapshot(), udp.snapshot()]);
    step('TCP flows', t1.summary.alive === TCP_FLOWS, `${t1.summary.alive}/${TCP_FLOWS} kept echoing through B (longest gap ${t1.summary.maxGapMs} ms, ${t1.flows.filter((f) => f.fatal).length} reset)`);
    step('UDP flows', u1.summary.alive === UDP_FLOWS, `${u1.summary.alive}/${UDP_FLOWS} kept echoing (longest gap ${u1.summary.maxGapMs} ms)`);

    const dnsmasqUp = await until(async () => ((await procs.rb!.resource('DHCPv4Server/lan-dhcpv4'))?.status.phase === 'Ready' ? true : undefined), 20_000);
    const rebind = await lab.exec('client', ['dhcpcd', '--rebind', 'eth0']);
    await sleep(3000);
    const after = await leasedAddresses(lab);
    const kept = leased !== undefined && after.v4 === leased.v4 && after.v6 === leased.v6;
    step('DHCP after failover', dnsmasqUp === true && rebind.code === 0 && kept, `B's dnsmasq started from the synced leases; after a rebind the client holds ${after.v4 ?? '-'} and ${after.v6 ?? '-'} (${kept ? 'the same addresses' : 'NOT the same'})`);
    const probe = await probeTcp(lab.nodes.client, SERVER, PORT, 2000);
    step('new connection', reached(probe), `a new TCP connection through B: ${probe.outcome}`);
    say('\n== routerctl get (router B)');
    say(await routerctl(lab, 'rb', ['get', '--run-dir', LAB_RUN_DIR]));

    await demoFailback({
      lab, procs, tcp, udp, step, say, routerctl: (node, args) => routerctl(lab, node, args), until,
      trace: {
        started: (p) => trace.logs.ra.push(p.logs),
        returned: (at) => {
          const down = trace.down.ra.at(-1);
          if (down) down.to = at;
        },
        mark: (at, label) => trace.markers.push({ at, label }),
      },
    });
  } catch (e) {
    step('demo', false, (e as Error).message);
  } finally {
    for (const [i, f] of flows.entries()) {
      const report = await f.stop().catch(() => undefined);
      if (report) trace.flows.push({ label: i === 0 ? 'TCP' : 'UDP', startedAt: trace.flowsAt, report, reportedAt: Date.now() });
    }
    dhcp?.kill('SIGTERM');
    for (const p of Object.values(procs)) await p?.stop('SIGKILL').catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await ssh?.stop().catch(() => undefined);
    await lab.destroy();
  }
  try {
    const end = Date.now();
    const svg = await saveDemoTimeline(
      OUT_DIR,
      {
        title: 'routerd lab demo: failover and failback timeline',
        subtitle: `${TCP_FLOWS} TCP and ${UDP_FLOWS} UDP echo flows through the VIP; time in seconds since both routerd started`,
        start: trace.start,
        end,
        routers: [
          { id: 'ra', label: 'router A', logs: trace.logs.ra.flat(), down: trace.down.ra },
          { id: 'rb', label: 'router B', logs: trace.logs.rb.flat(), down: trace.down.rb },
        ],
        flows: trace.flows,
        markers: trace.markers,
      },
    );
    step('timeline', true, `${svg} (and report.txt beside it)`);
  } catch (e) {
    step('timeline', false, (e as Error).message);
  }
  say('\n== Report');
  for (const s of steps) say(`${s.ok ? 'PASS' : 'FAIL'}  ${s.name.padEnd(20)} ${s.detail}`);
  const failed = steps.filter((s) => !s.ok).length;
  say(failed === 0 ? '\nThe failover and the failback kept every flow and every lease.' : `\n${failed} step(s) failed.`);
  await writeFile(`${OUT_DIR}/report.txt`, `${printed.join('\n')}\n`).catch(() => undefined);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
