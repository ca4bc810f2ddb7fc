// Pins the two kernel facts the handover gate (issue 12) rests on, with
// nf_conntrack_tcp_loose=0 and nf_conntrack_tcp_be_liberal=0, on one lab
// router forwarding (no NAT) a real TCP echo flow:
//  1. an entry that missed part of a flow (here: its packets bypassed
//     conntrack for a while, as they bypass a router while its peer forwards)
//     marks the next ACKs INVALID, since they acknowledge data the tracker
//     never saw; with `ct state invalid drop` the flow stalls;
//  2. the same flow's entry restored with `conntrack -R` (from a dump older
//     still) picks its TCP window up from the first packet it sees, and the
//     flow echoes again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runChecked } from '../../src/host/host.ts';
import { applyRestore, conntrackDumpArgv, parseConntrackExtended, restoreBatch, type ConntrackEntry } from '../../src/kernel/index.ts';
import { createLab, labPrefix, LAB_ADDRESSES } from '../../src/lab/topology.ts';
import { startEchoFlows, startTcpEchoServer, type EchoFlows, type EchoServer } from '../../src/lab/traffic.ts';
import { requireE2E } from '../helpers/e2e.ts';
import { until } from '../helpers/lab.ts';

const A = LAB_ADDRESSES.nodes;
const PORT = 7011;

const firewall = `table ip ktest {
  counter stale_acks {
  }
  chain forward_test {
    type filter hook forward priority filter; policy drop;
    ct state invalid counter name "stale_acks" drop
    ct state untracked accept
    ct state established,related accept
    iifname "lan0" ct state new accept
  }
  chain bypass {
    type filter hook prerouting priority raw; policy accept;
  }
}
`;

test('conntrack TCP window tracking (tcp_loose=0, be_liberal=0): ACKs for unseen data are INVALID; a restored entry picks its window up', { timeout: 120_000 }, async (t) => {
  if (!(await requireE2E(t, ['conntrack', 'nft']))) return;
  const lab = await createLab({ prefix: labPrefix('ktw') });
  const ra = lab.nodes.ra.host;
  let server: EchoServer | undefined;
  let flow: EchoFlows | undefined;
  const invalid = async () => {
    const r = await runChecked(ra, ['nft', '-j', 'list', 'counter', 'ip', 'ktest', 'stale_acks']);
    const c = (JSON.parse(r.stdout) as { nftables: { counter?: { packets: number } }[] }).nftables.find((x) => x.counter)?.counter;
    return c?.packets ?? 0;
  };
  const entry = async (): Promise<ConntrackEntry | undefined> => {
    const r = await runChecked(ra, conntrackDumpArgv({ format: 'extended', family: 'ipv4', protocol: 'tcp' }));
    return parseConntrackExtended(r.stdout).entries.find((e) => e.original.dport === PORT);
  };
  const alive = async () => (await flow!.snapshot()).summary.alive === 1;
  try {
    await runChecked(ra, ['sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_tcp_loose=0', 'net.netfilter.nf_conntrack_tcp_be_liberal=0', 'net.ipv4.ip_forward=1']);
    await runChecked(ra, ['nft', '-f', '-'], { stdin: firewall });
    await runChecked(lab.nodes.client.host, ['ip', 'route', 'replace', `${A.server.wan4}/32`, 'via', A.ra.lan4]);
    await runChecked(lab.nodes.server.host, ['ip', 'route', 'replace', LAB_ADDRESSES.lan.prefix4, 'via', A.ra.wan4]);
    server = await startTcpEchoServer(lab.nodes.server, PORT);
    flow = await startEchoFlows(lab.nodes.client, { target: A.server.wan4, port: PORT, protocol: 'tcp', count: 1, intervalMs: 20, durationMs: 90_000 });
    assert.equal(flow.ready.established, 1);
    await new Promise((r) => setTimeout(r, 500));
    const old = await entry();
    assert.equal(old?.tcpState, 'ESTABLISHED');
    assert.equal(await invalid(), 0);

    // The flow's packets bypass conntrack for a while (the entry stays, sees nothing).
    await runChecked(ra, ['nft', 'add', 'rule', 'ip', 'ktest', 'bypass', 'tcp', 'dport', String(PORT), 'notrack']);
    await runChecked(ra, ['nft', 'add', 'rule', 'ip', 'ktest', 'bypass', 'tcp', 'sport', String(PORT), 'notrack']);
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(await alive(), 'the flow echoes while its packets bypass conntrack');
    await runChecked(ra, ['nft', 'flush', 'chain', 'ip', 'ktest', 'bypass']);

    // Fact 1: back through the stale entry, the ACKs are INVALID and the flow stalls.
    const stalled = await until('the stale entry marks packets INVALID', async () => (await invalid()) > 0, 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    const s1 = await flow.snapshot();
    t.diagnostic(`stale entry: ${await invalid()} INVALID packets dropped; flow last echo ${s1.flows[0]?.lastEchoAgoMs} ms ago`);
    assert.ok(stalled);
    assert.equal(s1.summary.alive, 0, 'the flow stalls behind the stale entry');

    // Fact 2: the entry replaced by a restored copy (from the even older dump) picks its window up.
    const restore = await applyRestore(ra, restoreBatch([{ ...old!, timeout: 600 }]).text);
    assert.equal(restore.code, 0, restore.stderr);
    const before = await invalid();
    await until('the flow echoes again through the restored entry', alive, 20_000, 200);
    const s2 = await flow.snapshot();
    t.diagnostic(`restored entry: flow alive, ${(await invalid()) - before} INVALID packets after the restore`);
    assert.equal(s2.summary.alive, 1);
    assert.equal(s2.flows[0]?.fatal, null, 'no reset');
  } finally {
    await flow?.stop().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await lab.destroy();
  }
});
