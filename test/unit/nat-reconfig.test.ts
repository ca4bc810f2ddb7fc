// Property tests for seed 004 over generated conntrack tables and config pairs:
// kept ∪ removed = all flows on managed addresses; every removed flow is invalid
// and every kept flow valid under the new config (checked against an oracle
// written independently here); a second pass removes nothing; and the conntrack
// lines routerd would run, replayed on a model table, leave exactly the kept
// flows with their bindings untouched; addresses whose allowance did not
// shrink never hold an invalid flow (so the controller may skip reading them).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32 } from '../helpers/prng.ts';
import { cidrContains } from '../../src/api/primitives.ts';
import { exactDeleteLine } from '../../src/kernel/ct-delete.ts';
import { computeImpact, deletionPlan, describeGroups, shrunkAddresses, type RuleAddresses } from '../../src/controllers/nat44-rule/impact.ts';
import type { ResolvedNatRule } from '../../src/engines/nft/nat.ts';
import { parseConntrackSave, snatAddress, type ConntrackEntry } from '../../src/kernel/conntrack.ts';

const rng = mulberry32;

const CIDRS = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.2.0.0/16', '10.3.0.0/24'];
const ADDRS = ['198.51.100.100', '198.51.100.101', '198.51.100.102', '198.51.100.103'];
const addressesOf: RuleAddresses = (r) => (r.snat.kind === 'addresses' ? r.snat.addresses : []);

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function randomRules(r: () => number): ResolvedNatRule[] {
  const n = 1 + Math.floor(r() * 4);
  return Array.from({ length: n }, (_, i) => {
    const addrs = [...new Set(Array.from({ length: 1 + Math.floor(r() * 2) }, () => pick(r, ADDRS)))];
    const lo = 20000 + Math.floor(r() * 10000);
    return {
      name: `rule-${i}`,
      outIfname: 'wan0',
      sources: [...new Set(Array.from({ length: 1 + Math.floor(r() * 2) }, () => pick(r, CIDRS)))],
      snat: { kind: 'addresses' as const, addresses: addrs },
      portRange: r() < 0.5 ? { from: lo, to: lo + Math.floor(r() * 30000) } : undefined,
      random: true,
    };
  });
}

function mutate(r: () => number, rules: ResolvedNatRule[]): ResolvedNatRule[] {
  const out = rules.map((x) => ({ ...x, snat: { ...x.snat } })) as ResolvedNatRule[];
  const i = Math.floor(r() * out.length);
  const x = out[i]!;
  switch (Math.floor(r() * 6)) {
    case 0: // remove an address (or the rule, if it had one)
      if (x.snat.kind === 'addresses' && x.snat.addresses.length > 1) out[i] = { ...x, snat: { kind: 'addresses', addresses: x.snat.addresses.slice(1) } };
      else out.splice(i, 1);
      break;
    case 1: // narrow or set the port range
      out[i] = { ...x, portRange: x.portRange ? { from: x.portRange.from, to: x.portRange.from + Math.floor((x.portRange.to - x.portRange.from) / 3) } : { from: 30000, to: 40000 } };
      break;
    case 2: // change sources
      out[i] = { ...x, sources: [pick(r, CIDRS)] };
      break;
    case 3: // add an unrelated rule
      out.push({ name: 'extra', outIfname: 'wan0', sources: ['10.9.0.0/16'], snat: { kind: 'addresses', addresses: ['198.51.100.109'] }, random: false });
      break;
    case 4: // nothing changes
      break;
    default: // swap to another address
      out[i] = { ...x, snat: { kind: 'addresses', addresses: [pick(r, ADDRS)] } };
  }
  return out;
}

function host(r: () => number, cidr: string): string {
  const [base, len] = cidr.split('/');
  const b = base!.split('.').map(Number);
  const free = 32 - Number(len);
  const n = Math.floor(r() * 2 ** Math.min(free, 16));
  const v = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) + (n % 2 ** free);
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/** Flows as the old rules would have created them, plus some on addresses routerd does not manage. */
function flowsUnder(r: () => number, rules: readonly ResolvedNatRule[], n: number): ConntrackEntry[] {
  const lines: string[] = [];
  const used = new Set<string>();
  for (let i = 0; i < n; i++) {
    const rule = pick(r, rules);
    const foreign = r() < 0.1;
    const addr = foreign ? '203.0.113.7' : pick(r, addressesOf(rule));
    const src = host(r, pick(r, rule.sources));
    const proto = r() < 0.8 ? 'tcp' : 'udp';
    const range = rule.portRange ?? { from: 1024, to: 65535 };
    const port = range.from + Math.floor(r() * (range.to - range.from + 1));
    const sport = 1024 + Math.floor(r() * 60000);
    const key = `${proto}/${src}/${sport}`;
    const reply = `${proto}/${addr}/${port}`;
    if (used.has(key) || used.has(reply)) continue;
    used.add(key);
    used.add(reply);
    const tcp = proto === 'tcp' ? ' --state ESTABLISHED' : '';
    lines.push(`-A -t 100 -u SEEN_REPLY,ASSURED -s ${src} -d 192.0.2.200 -p ${proto} --sport ${sport} --dport 443${tcp} -r 192.0.2.200 -q ${addr} --reply-port-src 443 --reply-port-dst ${port}`);
  }
  const parsed = parseConntrackSave(lines.join('\n'));
  assert.deepEqual(parsed.errors, []);
  return parsed.entries;
}

/** Written apart from impact.ts: valid = some rule matching the source translates to this address and port. */
function oracleValid(e: ConntrackEntry, rules: readonly ResolvedNatRule[]): boolean {
  const addr = e.reply.dst;
  const port = e.reply.dport!;
  return rules.some(
    (r) =>
      r.sources.some((c) => cidrContains(c, e.original.src)) &&
      addressesOf(r).includes(addr) &&
      (!r.portRange || (port >= r.portRange.from && port <= r.portRange.to)),
  );
}

const tupleOf = (e: ConntrackEntry) => `${e.protocol} ${e.original.src}:${e.original.sport} ${e.original.dst}:${e.original.dport}`;
const bindingOf = (e: ConntrackEntry) => `${tupleOf(e)} → ${e.reply.dst}:${e.reply.dport}`;

/** Replays the `conntrack -R` lines routerd emits on a model table (the forms deletionPlan uses). */
function replay(table: ConntrackEntry[], lines: readonly string[]): ConntrackEntry[] {
  let t = [...table];
  for (const line of lines) {
    const a = line.split(' ');
    const opt = (k: string) => {
      const i = a.indexOf(k);
      return i >= 0 ? a[i + 1] : undefined;
    };
    if (a[0] === '-D') {
      const nat = opt('--src-nat');
      const s = opt('-s');
      const exact = opt('--sport') !== undefined;
      t = t.filter((e) => {
        const hit = exact
          ? e.protocol === opt('-p') && e.original.src === s && e.original.dst === opt('-d') && String(e.original.sport) === opt('--sport') && String(e.original.dport) === opt('--dport')
          : (nat === undefined || snatAddress(e) === nat) && (s === undefined || cidrContains(s.includes('/') ? s : `${s}/32`, e.original.src));
        return !hit;
      });
    } else if (a[0] === '-A') {
      const nat = opt('--src-nat')!.split(':');
      const key = `${opt('-p')} ${opt('-s')}:${opt('--sport')} ${opt('-d')}:${opt('--dport')}`;
      if (!t.some((e) => tupleOf(e) === key))
        t.push({
          ...table.find((e) => tupleOf(e) === key)!,
          reply: { src: opt('-d')!, dst: nat[0]!, sport: Number(opt('--dport')), dport: Number(nat[1]) },
        });
    } else assert.fail(`unexpected line ${line}`);
  }
  return t;
}

test('reconfig properties over 400 generated tables and config pairs', () => {
  let removedTotal = 0;
  let exactCases = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const r = rng(seed);
    const oldRules = randomRules(r);
    const newRules = mutate(r, oldRules);
    const table = flowsUnder(r, oldRules, Math.floor(r() * (seed % 10 === 0 ? 600 : 120)));
    const managed = new Set([...oldRules, ...newRules].flatMap(addressesOf));
    const ours = table.filter((e) => managed.has(snatAddress(e)!));
    const impact = computeImpact(table, newRules, managed, addressesOf);

    assert.equal(impact.kept.length + impact.removed.length, ours.length, `seed ${seed}: kept ∪ removed = all`);
    assert.deepEqual(new Set([...impact.kept, ...impact.removed.map((x) => x.entry)]), new Set(ours), `seed ${seed}: same flows`);
    for (const e of impact.kept) assert.ok(oracleValid(e, newRules), `seed ${seed}: kept flow ${bindingOf(e)} is valid`);
    for (const x of impact.removed) assert.ok(!oracleValid(x.entry, newRules), `seed ${seed}: removed flow ${bindingOf(x.entry)} is invalid`);
    // Skipping addresses whose allowance did not shrink never skips an invalid flow.
    const shrunk = new Set(shrunkAddresses(oldRules, newRules, addressesOf));
    const stillUsed = new Set(newRules.flatMap(addressesOf));
    for (const x of impact.removed) {
      const a = snatAddress(x.entry)!;
      assert.ok(shrunk.has(a) || !stillUsed.has(a), `seed ${seed}: invalid flow on ${a}, which shrunkAddresses did not report`);
    }

    const plan = deletionPlan(impact, [...oldRules, ...newRules].flatMap((x) => x.sources));
    // Exact deletes remove by original tuple and zone, nothing else (src/kernel/ct-delete.ts).
    const exactKeys = new Set(plan.exact.map(exactDeleteLine));
    const after = replay(table, plan.lines).filter((e) => !(snatAddress(e) && (e.protocol === 'tcp' || e.protocol === 'udp' || e.protocol === 'icmp') && exactKeys.has(exactDeleteLine(e))));
    for (const e of plan.exact) assert.ok(impact.removed.some((x) => x.entry === e), `seed ${seed}: an exact delete targets an invalid flow`);
    const foreign = table.filter((e) => !managed.has(snatAddress(e)!));
    assert.deepEqual(new Set(after.map(bindingOf)), new Set([...impact.kept, ...foreign].map(bindingOf)), `seed ${seed}: the lines leave exactly the kept flows`);
    if (plan.exact.length > 64) exactCases++;
    assert.equal(plan.scans, plan.lines.length, `seed ${seed}: one scan per line, none per exact delete`);

    const again = computeImpact(after, newRules, managed, addressesOf);
    assert.equal(again.removed.length, 0, `seed ${seed}: applying twice removes nothing`);
    removedTotal += impact.removed.length;
  }
  assert.ok(removedTotal > 500, `the generator exercises removals (${removedTotal})`);
  assert.ok(exactCases > 0, 'some cases delete many scattered flows exactly');
});

test('the impact reads like the plan output operators see', () => {
  const rules: ResolvedNatRule[] = [{ name: 'lan-out', outIfname: 'wan0', sources: ['10.1.0.0/16'], snat: { kind: 'addresses', addresses: ['198.51.100.100'] }, random: true }];
  const r = rng(7);
  const table = flowsUnder(r, [{ ...rules[0]!, snat: { kind: 'addresses', addresses: ['198.51.100.100', '198.51.100.101'] } }], 60);
  const impact = computeImpact(table, rules, new Set(['198.51.100.100', '198.51.100.101']), addressesOf);
  const n = impact.removed.length;
  assert.ok(n > 0);
  assert.equal(describeGroups(impact.groups), `keeps ${impact.kept.length} flows; removes ${n} flows on 198.51.100.101 (address removed)`);
  const plan = deletionPlan(impact, ['10.1.0.0/16']);
  assert.deepEqual(plan.lines, ['-D --src-nat 198.51.100.101']);
});
