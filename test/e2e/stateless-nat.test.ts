// Issue 7: StatelessNAT44 (seed 003). Two routers running routerd with the
// interface, virtual-address, nat44-rule and stateless-nat44 controllers and
// no session sync. The client plays two LAN hosts: 192.0.2.10 (no floating IP,
// shared SNAT) and 192.0.2.50 (floating IP 198.51.100.150). The echo client
// cannot choose its source address, so the client gets a host route to the
// server with `src 192.0.2.50`: the kernel then really sends from .50, and what
// the server's kernel accepts (a TCP handshake only completes when replies come
// from the address it connected to) and reports as the peer is the judge. For
// the inbound direction the echo server runs on the client and the server
// connects to the floating IP. Unmapped traffic goes to a second server
// address (198.51.100.201) that has no such route, so it leaves from .10.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { conntrackCountArgv, conntrackDumpArgv, parseConntrackCount, parseConntrackExtended, type ConntrackEntry } from '../../src/kernel/conntrack.ts';
import { nftListTableJsonArgv, parseNftElements } from '../../src/kernel/nft-elements.ts';
import { killKeepalived, startRouterd, ROUTERCTL_BIN, type RouterdProcess } from '../../src/lab/routerd.ts';
import { createLab, labPrefix, type Lab, type LabNodeName } from '../../src/lab/topology.ts';
import { startEchoFlows, startTcpEchoServer, type EchoServer, type FlowReport } from '../../src/lab/traffic.ts';
import { requireE2E } from '../helpers/e2e.ts';
import { holders, installConfig, killPid, stopAll, until, verboseEcho } from '../helpers/lab.ts';
import { readFile } from 'node:fs/promises';
import { example } from '../helpers/paths.ts';

const FIP = '198.51.100.150';
const FIP_IDLE = '198.51.100.151';
const INTERNAL = '192.0.2.50';
const CLIENT = '192.0.2.10';
const SNAT = '198.51.100.100';
const SERVER = '198.51.100.200';
const SERVER_ALT = '198.51.100.201';
const SERVER_PORT = 7007;
const INTERNAL_PORT = 7008;
const CLOSED_PORT = 9;
const CONTROLLERS = ['interface', 'virtual-address', 'nat44-rule', 'stateless-nat44'];
const RESOURCE = 'StatelessNAT44/floating-ips';

async function statelessConfig(router: 'a' | 'b'): Promise<string> {
  return readFile(example(`lab/stateless-router-${router}.yaml`), 'utf8');
}

function hex(addr: string): string {
  return `0x${addr
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')}`;
}

async function sh(lab: Lab, node: LabNodeName, argv: string[], stdin?: string): Promise<string> {
  const r = await lab.exec(node, argv, stdin === undefined ? {} : { stdin });
  assert.equal(r.code, 0, `${node}: ${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function conntrackCount(lab: Lab, node: LabNodeName): Promise<number> {
  const n = parseConntrackCount(await sh(lab, node, conntrackCountArgv()));
  assert.ok(n !== undefined);
  return n;
}

/** Every conntrack entry of a node, keyed by its original tuple. */
async function conntrackEntries(lab: Lab, node: LabNodeName): Promise<Map<string, ConntrackEntry>> {
  const { entries } = parseConntrackExtended(await sh(lab, node, conntrackDumpArgv({ format: 'extended' })));
  const key = (e: ConntrackEntry) => `${e.protocol} ${e.original.src}:${e.original.sport ?? ''} > ${e.original.dst}:${e.original.dport ?? ''}`;
  return new Map(entries.map((e) => [key(e), e]));
}

/** Entries the floating-IP traffic would create if it were tracked. */
function floatingEntries(entries: Map<string, ConntrackEntry>): string[] {
  const ours = new Set([INTERNAL, FIP, SERVER]);
  return [...entries].filter(([, e]) => [e.original.src, e.original.dst, e.reply.src, e.reply.dst].some((a) => ours.has(a))).map(([k]) => k);
}

/** Peers of established TCP connections on a local port, as the node's kernel sees them. */
async function tcpPeers(lab: Lab, node: LabNodeName, port: number, side: 'sport' | 'dport'): Promise<{ local: string; peer: string }[]> {
  const out = await sh(lab, node, ['ss', '-Htn', 'state', 'established', `( ${side} = :${port} )`]);
  const strip = (a: string) => a.replace(/:\d+$/, '').replace(/^\[(?:::ffff:)?|\]$/g, '');
  return out
    .trim()
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const f = l.trim().split(/\s+/);
      return { local: strip(f[f.length - 2]!), peer: strip(f[f.length - 1]!) };
    });
}

/** Packet counters of the stateless maps, from the kernel: map → key → packets. */
async function mapCounters(lab: Lab, node: LabNodeName): Promise<Map<string, Map<string, { value?: string; packets: number }>>> {
  const { containers, errors } = parseNftElements(await sh(lab, node, nftListTableJsonArgv('ip', 'routerd_stateless')));
  assert.deepEqual(errors, []);
  return new Map(containers.map((c) => [c.name, new Map(c.elements.map((e) => [e.key, { ...(e.value !== undefined ? { value: e.value } : {}), packets: e.packets ?? 0 }]))]));
}

/** Named counters of a probe table we put in a lab host (our own namespace). */
async function namedCounters(lab: Lab, node: LabNodeName, family: 'ip' | 'arp', table: string): Promise<Record<string, number>> {
  const doc = JSON.parse(await sh(lab, node, ['nft', '-j', 'list', 'counters', 'table', family, table])) as { nftables: Record<string, { name?: string; packets?: number }>[] };
  const out: Record<string, number> = {};
  for (const item of doc.nftables) if (item.counter?.name) out[item.counter.name] = item.counter.packets ?? 0;
  return out;
}

// One UDP datagram of `size` bytes to target:port and its echo, from inside a node (no shell).
const UDP_ONCE = `
const dgram = require('node:dgram');
const [target, port, size] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
let tries = 0;
const send = () => { tries++; s.send(Buffer.alloc(Number(size), 0x61), Number(port), target); };
const timer = setInterval(() => { if (tries >= 3) { console.log(JSON.stringify({ ok: false })); process.exit(0); } send(); }, 1000);
s.on('message', (m, r) => { clearInterval(timer); console.log(JSON.stringify({ ok: true, bytes: m.length, from: r.address })); process.exit(0); });
send();
`;

async function udpRoundTrip(lab: Lab, node: LabNodeName, target: string, port: number, size: number): Promise<{ ok: boolean; bytes?: number; from?: string }> {
  const out = await sh(lab, node, [process.execPath, '-e', UDP_ONCE, target, String(port), String(size)]);
  return JSON.parse(out.trim().split('\n').pop()!) as { ok: boolean; bytes?: number; from?: string };
}

function summary(r: FlowReport): string {
  const s = r.summary;
  return `${s.alive}/${s.flows} alive, ${s.dead} dead, ${s.echoed}/${s.sent} echoed, longest gap ${s.maxGapMs} ms, errors ${JSON.stringify(s.errors)}`;
}

test('StatelessNAT44: floating IPs without conntrack, across failover without session sync', { timeout: 300_000 }, async (t) => {
  if (!(await requireE2E(t, ['keepalived', 'nft', 'conntrack', 'ss']))) return;
  const lab: Lab = await createLab({ prefix: labPrefix('snat'), ipv6: false });
  let ra: RouterdProcess | undefined;
  let rb: RouterdProcess | undefined;
  const servers: EchoServer[] = [];
  const start = async (node: 'ra' | 'rb') => startRouterd(lab.nodes[node], { controllers: CONTROLLERS, echo: verboseEcho });
  try {
    await installConfig(lab.nodes.ra, await statelessConfig('a'));
    await installConfig(lab.nodes.rb, await statelessConfig('b'));
    // The mapped internal host lives on the client; its flows to SERVER leave from it.
    await sh(lab, 'client', ['ip', 'addr', 'add', `${INTERNAL}/24`, 'dev', 'eth0']);
    await sh(lab, 'client', ['ip', 'route', 'add', `${SERVER}/32`, 'via', lab.addresses.lan.vip4, 'dev', 'eth0', 'src', INTERNAL]);
    await sh(lab, 'server', ['ip', 'addr', 'add', `${SERVER_ALT}/24`, 'dev', 'eth0']);
    servers.push(await startTcpEchoServer(lab.nodes.server, SERVER_PORT));
    servers.push(await startTcpEchoServer(lab.nodes.client, INTERNAL_PORT));
    ra = await start('ra');
    rb = await start('rb');

    await t.test('the master holds the floating addresses; both routers have the table', async () => {
      await ra!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 30_000);
      await rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'backup', 30_000);
      await until('floating addresses on ra only', async () => JSON.stringify(await holders(lab, FIP)) === '["ra"]' && JSON.stringify(await holders(lab, FIP_IDLE)) === '["ra"]', 15_000);
      for (const p of [ra!, rb!]) {
        const r = await p.waitFor(RESOURCE, (x) => x.status.phase === 'Ready' && Array.isArray(x.status.mappings), 15_000);
        assert.deepEqual(r.status.externalAddresses, [FIP, FIP_IDLE]);
        assert.deepEqual(r.status.warnings, []);
      }
      for (const node of ['ra', 'rb'] as const) {
        const maps = await mapCounters(lab, node);
        assert.equal(maps.get('in_0')?.get(FIP)?.value, INTERNAL);
        assert.equal(maps.get('out_0')?.get(INTERNAL)?.value, FIP);
        assert.ok(maps.get('int_0')?.has(INTERNAL));
      }
      assert.match((await ra!.resource(RESOURCE))!.status.message as string, /holds 2 of the 2 floating/);
      assert.match((await rb!.resource(RESOURCE))!.status.message as string, /holds 0 of the 2 floating/);
    });

    await t.test('floating-IP traffic both ways does not create a single conntrack entry', async () => {
      const listedBefore = await conntrackEntries(lab, 'ra');
      const before = await conntrackCount(lab, 'ra');
      // Inbound: the server connects to the floating IP; outbound: the internal host connects to the server.
      const inbound = await startEchoFlows(lab.nodes.server, { target: FIP, port: INTERNAL_PORT, protocol: 'tcp', count: 20, intervalMs: 100, durationMs: 4_000 });
      const outbound = await startEchoFlows(lab.nodes.client, { target: SERVER, port: SERVER_PORT, protocol: 'tcp', count: 20, intervalMs: 100, durationMs: 4_000 });
      const udp = await startEchoFlows(lab.nodes.server, { target: FIP, port: INTERNAL_PORT, protocol: 'udp', count: 10, intervalMs: 100, durationMs: 4_000 });
      assert.equal(inbound.ready.established, 20);
      assert.equal(outbound.ready.established, 20);
      assert.equal(udp.ready.established, 10);
      const during: number[] = [];
      for (let i = 0; i < 5; i++) {
        during.push(await conntrackCount(lab, 'ra'));
        await new Promise((r) => setTimeout(r, 400));
      }
      // The server connected to the floating IP and the handshake completed: replies came from it.
      const atServerIn = await tcpPeers(lab, 'server', INTERNAL_PORT, 'dport');
      assert.equal(atServerIn.length, 20);
      for (const c of atServerIn) assert.equal(c.peer, FIP);
      // The internal host sees the server's real address (inbound is not source-translated) on its own address.
      const atHost = await tcpPeers(lab, 'client', INTERNAL_PORT, 'sport');
      assert.equal(atHost.length, 20);
      for (const c of atHost) assert.deepEqual(c, { local: INTERNAL, peer: SERVER });
      // The internal host's own connections arrive from the floating IP.
      const atServerOut = await tcpPeers(lab, 'server', SERVER_PORT, 'sport');
      assert.equal(atServerOut.length, 20);
      for (const c of atServerOut) assert.equal(c.peer, FIP);
      const reports = await Promise.all([inbound.done, outbound.done, udp.done]);
      const after = await conntrackCount(lab, 'ra');
      const listedAfter = await conntrackEntries(lab, 'ra');
      // The router's own background entries (VRRP adverts, ...) may come and go; name them.
      const appeared = [...listedAfter.keys()].filter((k) => !listedBefore.has(k));
      t.diagnostic(`conntrack -C on ra: before ${before}, during ${during.join(' ')}, after ${after}; background entries: ${[...listedBefore.keys()].join('; ') || 'none'}; new entries: ${appeared.length ? appeared.join('; ') : 'none'}`);
      t.diagnostic(`inbound tcp: ${summary(reports[0])}; outbound tcp: ${summary(reports[1])}; inbound udp: ${summary(reports[2])}`);
      for (const r of reports) assert.equal(r.summary.dead, 0);
      assert.deepEqual(floatingEntries(listedAfter), [], 'no entry for the floating-IP traffic');
      assert.ok(Math.max(...during, after) <= before + appeared.length, `conntrack grew beyond background entries: before ${before}, during ${during.join(' ')}, after ${after}`);
      assert.ok(appeared.length <= 1, `background entries appeared: ${appeared.join('; ')}`);
    });

    await t.test('an unmapped host still goes out through the shared SNAT, tracked', async () => {
      const flows = await startEchoFlows(lab.nodes.client, { target: SERVER_ALT, port: SERVER_PORT, protocol: 'tcp', count: 3, intervalMs: 100, durationMs: 2_000 });
      assert.equal(flows.ready.established, 3);
      const peers = await tcpPeers(lab, 'server', SERVER_PORT, 'sport');
      const alt = peers.filter((p) => p.local === SERVER_ALT);
      assert.equal(alt.length, 3);
      for (const p of alt) assert.equal(p.peer, SNAT);
      const entries = await sh(lab, 'ra', ['conntrack', '-L', '-p', 'tcp', '-s', CLIENT, '--dport', String(SERVER_PORT)]);
      assert.ok((entries.match(new RegExp(`dst=${SNAT.replace(/\./g, '\\.')}`, 'g')) ?? []).length >= 3, entries);
      assert.equal((await flows.done).summary.dead, 0);
    });

    await t.test('routerctl describe shows each mapping with its packet counters', async () => {
      const r = await ra!.waitFor(RESOURCE, (x) => ((x.status.mappings as { inPackets: number }[] | undefined)?.[0]?.inPackets ?? 0) > 0, 10_000);
      const [busy, idle] = r.status.mappings as { external: string; internal: string; inPackets: number; outPackets: number }[];
      assert.equal(busy!.external, FIP);
      assert.ok(busy!.inPackets > 0 && busy!.outPackets > 0, JSON.stringify(busy));
      assert.deepEqual(idle, { external: FIP_IDLE, internal: '192.0.2.51', inPackets: 0, outPackets: 0 });
      const out = spawnSync(process.execPath, [ROUTERCTL_BIN, 'describe', RESOURCE, '--socket', ra!.socket], { encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      for (const line of out.stdout.trimEnd().split('\n')) t.diagnostic(line);
      assert.match(out.stdout, /^Mappings:$/m);
      assert.match(out.stdout, /^EXTERNAL\s+INTERNAL\s+INPACKETS\s+OUTPACKETS$/m);
      assert.match(out.stdout, new RegExp(`^198\\.51\\.100\\.150\\s+192\\.0\\.2\\.50\\s+${busy!.inPackets}\\s+${busy!.outPackets}$`, 'm'));
      assert.match(out.stdout, /^198\.51\.100\.151\s+192\.0\.2\.51\s+0\s+0$/m);
    });

    await t.test('changing one mapping updates map elements only; the others keep their counters; a re-apply is a no-op', async () => {
      const before = await mapCounters(lab, 'ra');
      const kept = before.get('in_0')!.get(FIP)!.packets;
      assert.ok(kept > 0);
      const logsAt = ra!.logs.length;
      await installConfig(lab.nodes.ra, (await statelessConfig('a')).replace('internal: 192.0.2.51', 'internal: 192.0.2.52'));
      killPid(ra!.pid, 'SIGHUP');
      await ra!.waitFor(RESOURCE, (r) => r.generation === 2 && r.status.observedGeneration === 2, 15_000);
      const applied = ra!.logs.slice(logsAt).filter((l) => l.action === 'nft-elements' || l.action === 'nft-apply');
      assert.deepEqual(applied.map((l) => [l.action, l.added, l.deleted]), [['nft-elements', 3, 3]]);
      const after = await mapCounters(lab, 'ra');
      assert.equal(after.get('in_0')!.get(FIP_IDLE)?.value, '192.0.2.52');
      assert.equal(after.get('out_0')!.get('192.0.2.52')?.value, FIP_IDLE);
      assert.ok(!after.get('int_0')!.has('192.0.2.51'));
      assert.ok(after.get('in_0')!.get(FIP)!.packets >= kept, 'the unchanged mapping kept its counter');
      // Same config again: the next passes write nothing.
      const quietAt = ra!.logs.length;
      killPid(ra!.pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 3_000)); // covers the reload pass and a resync pass (--resync 2)
      assert.equal((await ra!.resource(RESOURCE))?.status.observedGeneration, 2, 'the same spec keeps its generation');
      assert.deepEqual(ra!.logs.slice(quietAt).filter((l) => l.action === 'nft-elements' || l.action === 'nft-apply'), []);
      // Back to the lab config for what follows.
      await installConfig(lab.nodes.ra, await statelessConfig('a'));
      killPid(ra!.pid, 'SIGHUP');
      await ra!.waitFor(RESOURCE, (r) => r.generation === 3 && r.status.observedGeneration === 3, 15_000);
      assert.equal((await mapCounters(lab, 'ra')).get('in_0')!.get(FIP_IDLE)?.value, '192.0.2.51');
    });

    await t.test('fragments: 3000-byte UDP datagrams cross the floating IP both ways', async () => {
      const inbound = await udpRoundTrip(lab, 'server', FIP, INTERNAL_PORT, 3000);
      assert.deepEqual(inbound, { ok: true, bytes: 3000, from: FIP });
      const outbound = await udpRoundTrip(lab, 'client', SERVER, SERVER_PORT, 3000);
      assert.deepEqual(outbound, { ok: true, bytes: 3000, from: SERVER });
    });

    await t.test('known limit: ICMP errors keep the internal address in their inner header', async () => {
      // Probe counters in the end hosts (our namespaces): ICMP port unreachable, by inner address.
      await sh(lab, 'server', ['nft', '-f', '-'], [
        'table ip icmp_probe {',
        '\tcounter inner_internal {}',
        '\tcounter inner_floating {}',
        '\tchain in {',
        '\t\ttype filter hook input priority 0; policy accept;',
        `\t\ticmp type destination-unreachable ip saddr ${FIP} @th,192,32 ${hex(INTERNAL)} counter name "inner_internal"`,
        `\t\ticmp type destination-unreachable ip saddr ${FIP} @th,192,32 ${hex(FIP)} counter name "inner_floating"`,
        '\t}',
        '}',
        '',
      ].join('\n'));
      await sh(lab, 'client', ['nft', '-f', '-'], [
        'table ip icmp_probe {',
        '\tcounter inner_floating {}',
        '\tchain in {',
        '\t\ttype filter hook input priority 0; policy accept;',
        `\t\ticmp type destination-unreachable ip daddr ${INTERNAL} @th,160,32 ${hex(FIP)} counter name "inner_floating"`,
        '\t}',
        '}',
        '',
      ].join('\n'));
      const udpTo = async (node: LabNodeName, target: string) => {
        const f = await startEchoFlows(lab.nodes[node], { target, port: CLOSED_PORT, protocol: 'udp', count: 1, intervalMs: 200, durationMs: 1_500, connectTimeoutMs: 500 });
        return (await f.done).summary.errors;
      };
      // The server sends to a closed port behind the floating IP: the host answers "port unreachable",
      // the router rewrites only the outer source, the server's socket never hears of it.
      const viaFip = await udpTo('server', FIP);
      // Control: the same to a router address (no translation) reports ECONNREFUSED.
      const direct = await udpTo('server', lab.nodes.ra.addresses.wan4!);
      // The internal host sends to a closed port on the server: the error comes back to the floating IP,
      // is rewritten to the host, but names the floating IP inside: lost as well.
      const fromHost = await udpTo('client', SERVER);
      // Control: the unmapped host through the stateful SNAT gets it (conntrack rewrites the inner header).
      const viaSnat = await udpTo('client', SERVER_ALT);
      const server = await namedCounters(lab, 'server', 'ip', 'icmp_probe');
      const client = await namedCounters(lab, 'client', 'ip', 'icmp_probe');
      t.diagnostic(`server→floating IP closed port: socket errors ${JSON.stringify(viaFip)}; ICMP seen by the server: inner destination ${INTERNAL} ×${server.inner_internal}, ${FIP} ×${server.inner_floating}`);
      t.diagnostic(`internal host→server closed port: socket errors ${JSON.stringify(fromHost)}; ICMP seen by the host naming ${FIP} inside ×${client.inner_floating}`);
      t.diagnostic(`controls: to a router address ${JSON.stringify(direct)}; unmapped host via SNAT ${JSON.stringify(viaSnat)}`);
      assert.deepEqual(viaFip, {});
      assert.ok((server.inner_internal ?? 0) > 0, 'the ICMP error reached the server and leaks the internal address');
      assert.equal(server.inner_floating, 0);
      assert.deepEqual(fromHost, {});
      assert.ok((client.inner_floating ?? 0) > 0, 'the ICMP error reached the host, naming the floating IP inside');
      assert.ok((direct.ECONNREFUSED ?? 0) > 0);
      assert.ok((viaSnat.ECONNREFUSED ?? 0) > 0);
    });

    await t.test('a TCP flow to a floating IP survives the master dying, with no session sync', async () => {
      const rbMac = (await sh(lab, 'rb', ['cat', '/sys/class/net/wan0/address'])).trim();
      // Count gratuitous ARP for the floating IP sent by rb, at the server (our namespace).
      await sh(lab, 'server', ['nft', '-f', '-'], [
        'table arp garp_probe {',
        '\tcounter from_rb {}',
        '\tchain in {',
        '\t\ttype filter hook input priority 0; policy accept;',
        `\t\tarp saddr ip ${FIP} arp daddr ip ${FIP} arp saddr ether ${rbMac} counter name "from_rb"`,
        '\t}',
        '}',
        '',
      ].join('\n'));
      const flows = await startEchoFlows(lab.nodes.server, { target: FIP, port: INTERNAL_PORT, protocol: 'tcp', count: 5, intervalMs: 100, durationMs: 30_000 });
      assert.equal(flows.ready.established, 5);
      await new Promise((r) => setTimeout(r, 1_000));
      const rbBefore = (await mapCounters(lab, 'rb')).get('in_0')!.get(FIP)!.packets;
      // The master dies as a box would: its links go dark first (so no goodbye advert reaches rb,
      // which must notice the silence), then its daemons are killed.
      const killedAt = Date.now();
      await lab.linkDown('sw', 'ra-lan');
      await lab.linkDown('sw', 'ra-wan');
      killPid(ra!.pid, 'SIGKILL');
      await killKeepalived(lab.nodes.ra);
      ra = undefined;
      await rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 20_000);
      t.diagnostic(`rb master ${Date.now() - killedAt} ms after ra went dark`);
      assert.ok((await holders(lab, FIP)).includes('rb'));
      await new Promise((r) => setTimeout(r, 4_000));
      const report = await flows.stop();
      const rbAfter = (await mapCounters(lab, 'rb')).get('in_0')!.get(FIP)!.packets;
      const garp = await namedCounters(lab, 'server', 'arp', 'garp_probe');
      const rbConntrack = floatingEntries(await conntrackEntries(lab, 'rb'));
      t.diagnostic(`floating-IP flows across the failover: ${summary(report)}`);
      t.diagnostic(`rb translated ${rbAfter - rbBefore} packets in for ${FIP}; gratuitous ARP for ${FIP} from rb seen by the server: ${garp.from_rb}`);
      assert.equal(report.summary.alive, 5);
      assert.equal(report.summary.dead, 0);
      assert.ok(rbAfter - rbBefore > 20, 'the flows went through rb after the failover');
      assert.ok((garp.from_rb ?? 0) > 0, 'rb announced the floating IP with gratuitous ARP');
      assert.deepEqual(rbConntrack, [], 'rb never tracked the floating-IP flows');
    });
  } finally {
    await stopAll([ra, rb]);
    for (const s of servers) await s.stop().catch(() => undefined);
    await lab.destroy();
  }
});
