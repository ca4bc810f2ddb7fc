// A returning router takes the current master's state before it may take the
// role back: the sessions of every NAT44SessionSync and the lease files of
// every lease sync in which it is a target, pulled from the peer that holds
// the VIP and put in place REPLACING its own older copies (the sessions per
// SNAT address with `-D --src-nat ADDR` then `-A`, the lease file by rsync's
// rename). Its own stale entries would otherwise carry TCP windows the kernel
// judges by (docs/kernel-facts.md); restored entries pick theirs up from the
// first packet.
import { resourceId, type AnyResource, type ResourceOf } from '../../api/kinds.ts';
import { targetName } from '../../api/target.ts';
import { describeFailure, firstLines, type Host } from '../../host/host.ts';
import { applyRestore, classifyRestoreResult, restoreIsolating, snatRestoreBatch } from '../../kernel/conntrack-batch.ts';
import { conntrackDeleteBySnatArgv, conntrackDumpArgv, parseConntrackExtended, snatAddress, type ConntrackEntry } from '../../kernel/conntrack.ts';
import { conntrackdPaths } from '../../engines/conntrackd/engine.ts';
import { ipAddrShowArgv, parseIpAddr } from '../../kernel/ip.ts';
import type { Logger } from '../../observability/logger.ts';
import { rsyncPullArgv, rsyncSshConfig } from '../../transport/rsync.ts';
import { parseRsyncStats } from '../../transport/rsync-stats.ts';
import { parseDnsmasqLeases } from '../../engines/dnsmasq/leases.ts';
import { SshHost } from '../../transport/ssh-host.ts';
import type { StatusLookup } from '../../when/evaluate.ts';
import { leaseSyncSource, type LeaseSyncKind } from '../lease-sync/plan.ts';
import { targetHost } from '../session-sync/controller.ts';
import { selectSnatAddresses } from '../session-sync/select.ts';
import type { PlanContext } from '../types.ts';

const LEASE_SYNC_KINDS: readonly string[] = ['DHCPv4ServerLeaseSync', 'DHCPv6ServerLeaseSync', 'DHCPv6PrefixDelegationLeaseSync'];
const SYNCED_PROTOCOLS = new Set(['tcp', 'udp', 'icmp']);
/** Largest failed restore worth bisecting entry by entry (each -D scans the table). */
const MAX_ISOLATED = 256;

type SessionSync = ResourceOf<'NAT44SessionSync'>;
type LeaseSync = ResourceOf<LeaseSyncKind>;

/** The sync resources a VirtualAddress's gate waits for. */
export interface GatedSyncs {
  readonly sessions: readonly SessionSync[];
  readonly leases: readonly LeaseSync[];
}

/**
 * The syncs that follow this VirtualAddress: their spec.when names it (or the
 * node has only this one VirtualAddress), they have targets, and their
 * controller runs on this node.
 */
export function gatedSyncs(vipName: string, vipCount: number, all: readonly AnyResource[], controllerRuns: (id: string) => boolean): GatedSyncs {
  const follows = (r: AnyResource): boolean => {
    const when = (r.spec as { when?: unknown }).when;
    if (when !== undefined && JSON.stringify(when).includes(`"VirtualAddress/${vipName}.`)) return true;
    return vipCount === 1;
  };
  const runs = (r: AnyResource) => follows(r) && controllerRuns(resourceId(r)) && ((r.spec as { targets?: unknown[] }).targets?.length ?? 0) > 0;
  return {
    sessions: all.filter((r): r is SessionSync & AnyResource => r.kind === 'NAT44SessionSync' && runs(r)),
    leases: all.filter((r): r is LeaseSync & AnyResource => LEASE_SYNC_KINDS.includes(r.kind) && runs(r)) as LeaseSync[],
  };
}

export interface PullDeps {
  readonly local: Host;
  readonly controlDir: string;
  readonly planCtx: Pick<PlanContext, 'paths'> & { readonly status: StatusLookup };
  readonly log: Logger;
  /** What the gate is waiting for right now, for status ("sessions from 192.0.2.3 (412 received)"). */
  readonly progress: (what: string) => void;
  readonly signal: AbortSignal;
}

export interface PullOutcome {
  readonly ok: boolean;
  /** The peer the state came from (the one holding the VIP). */
  readonly from?: string;
  readonly sessions: number;
  readonly leaseFiles: number;
  readonly durationMs: number;
  readonly error?: string;
}

interface PeerRef {
  readonly host: string;
  readonly port: number;
  readonly user?: string | undefined;
}

const sameHost = (a: PeerRef, b: PeerRef) => a.host === b.host && a.port === b.port;

/** Which of the targets holds the VIP address now, asked over ssh (ip -j addr). */
async function findMaster(vipAddress: string, candidates: readonly { ref: PeerRef; host: Host }[]): Promise<{ master?: PeerRef; errors: string[] }> {
  const errors: string[] = [];
  for (const c of candidates) {
    const r = await c.host.run(ipAddrShowArgv(), { timeoutMs: 15_000 });
    if (r.code !== 0) {
      errors.push(`${c.ref.host}: ${firstLines(describeFailure(r), 1)}`);
      continue;
    }
    if (parseIpAddr(r.stdout).items.some((l) => l.addresses.some((a) => a.local === vipAddress))) return { master: c.ref, errors };
  }
  return { errors };
}

/**
 * Take the master's state. Not ok (and retried by the gate) when no target
 * holds the VIP, a dump or copy fails, or the local restore fails.
 */
export async function pullState(vip: ResourceOf<'VirtualAddress'>, syncs: GatedSyncs, deps: PullDeps): Promise<PullOutcome> {
  const t0 = performance.now();
  const done = (o: Omit<PullOutcome, 'durationMs'>): PullOutcome => ({ ...o, durationMs: Math.round(performance.now() - t0) });
  const vipAddress = vip.spec.address.split('/')[0]!;
  const candidates: { ref: PeerRef; host: Host }[] = [];
  for (const r of syncs.sessions)
    for (const t of r.spec.targets) if (!candidates.some((c) => sameHost(c.ref, t))) candidates.push({ ref: t, host: targetHost(deps.local, t, deps.controlDir) });
  for (const r of syncs.leases)
    for (const t of r.spec.targets)
      if (!candidates.some((c) => sameHost(c.ref, t))) candidates.push({ ref: t, host: new SshHost(deps.local, t, { controlDir: deps.controlDir }) });
  if (candidates.length === 0) return done({ ok: true, sessions: 0, leaseFiles: 0 });

  await deps.local.mkdirp(deps.controlDir, 0o700);
  deps.progress(`finding the master among ${candidates.map((c) => c.ref.host).join(', ')}`);
  const { master, errors } = await findMaster(vipAddress, candidates);
  if (!master) return done({ ok: false, sessions: 0, leaseFiles: 0, error: `no target holds ${vipAddress}${errors.length ? ` (${errors.join('; ')})` : ''}` });
  if (deps.signal.aborted) return done({ ok: false, from: master.host, sessions: 0, leaseFiles: 0, error: 'aborted' });

  let sessions = 0;
  for (const r of syncs.sessions) {
    const t = r.spec.targets.find((x) => sameHost(x, master));
    if (!t) continue;
    const sel = selectSnatAddresses(r, deps.planCtx.status);
    if (!sel.ok) return done({ ok: false, from: master.host, sessions, leaseFiles: 0, error: `${resourceId(r)}: waiting for the SNAT address of ${sel.pending.join(', ')}` });
    const remote = targetHost(deps.local, t, deps.controlDir);
    if (r.spec.mode === 'conntrackd') {
      const c = await takeViaConntrackd(r, sel.addresses, remote, master.host, deps);
      if (!c.ok) return done({ ok: false, from: master.host, sessions, leaseFiles: 0, error: `${resourceId(r)}: ${c.error}` });
      sessions += c.entries;
      deps.log.info(
        { resource: resourceId(vip), sync: resourceId(r), target: targetName(t), action: 'handover-pull-sessions', via: 'conntrackd', entries: c.entries, deleted: c.deleted, addresses: sel.addresses, durationMs: Math.round(performance.now() - t0) },
        `${c.entries} sessions of ${targetName(t)} in the kernel through conntrackd's resync`,
      );
      continue;
    }
    const byAddr = new Map<string, ConntrackEntry[]>();
    deps.progress(`waiting for sessions from ${master.host}`);
    for (const addr of sel.addresses) {
      const d = await remote.run(conntrackDumpArgv({ format: 'extended', family: 'ipv4', snatAddress: addr }), { timeoutMs: 120_000 });
      if (d.code !== 0) return done({ ok: false, from: master.host, sessions, leaseFiles: 0, error: `dump of ${addr} on ${targetName(t)}: ${firstLines(describeFailure(d), 1)}` });
      byAddr.set(addr, parseConntrackExtended(d.stdout).entries.filter((e) => SYNCED_PROTOCOLS.has(e.protocol) && snatAddress(e) === addr));
    }
    const received = [...byAddr.values()].reduce((n, l) => n + l.length, 0);
    deps.progress(`waiting for sessions from ${master.host} (${received} received)`);
    const parts = [...byAddr].map(([addr, entries]) => snatRestoreBatch(addr, entries));
    const entries = parts.flatMap((p) => p.entries);
    const applied = await applyRestore(deps.local, parts.map((p) => p.text).join(''), { timeoutMs: 120_000 });
    const failure = classifyRestoreResult(applied);
    if (failure === 'kernel' && entries.length <= MAX_ISOLATED) {
      const iso = await restoreIsolating(deps.local, entries, { timeoutMs: 60_000 });
      if (iso.failed.length) deps.log.warn({ resource: resourceId(vip), sync: resourceId(r), action: 'handover-restore', failed: iso.failed.length }, 'some pulled sessions could not be restored');
    } else if (failure !== undefined)
      return done({ ok: false, from: master.host, sessions, leaseFiles: 0, error: `restore of ${received} sessions: ${firstLines(describeFailure(applied), 1)}` });
    sessions += received;
    deps.log.info(
      { resource: resourceId(vip), sync: resourceId(r), target: targetName(t), action: 'handover-pull-sessions', entries: received, skipped: parts.reduce((n, p) => n + p.skipped.length, 0), addresses: sel.addresses, durationMs: Math.round(performance.now() - t0) },
      `${received} sessions taken from ${targetName(t)}`,
    );
  }

  let leaseFiles = 0;
  for (const r of syncs.leases) {
    const t = r.spec.targets.find((x) => sameHost(x, master));
    if (!t) continue;
    const src = leaseSyncSource(r, deps.planCtx);
    deps.progress(`waiting for ${src.kind} leases from ${master.host}`);
    const extra = ['--checksum', ...(src.kind === 'DHCPv6PrefixDelegation' ? ['--delete'] : [])];
    const sshConfig = rsyncSshConfig(t, { controlDir: deps.controlDir }, deps.controlDir);
    await deps.local.writeFileAtomic(sshConfig.path, sshConfig.text, 0o600);
    const argv = rsyncPullArgv({ ...t, options: [...extra, ...t.options] }, src.path, sshConfig.path);
    const c = await deps.local.run(argv, { timeoutMs: 90_000 });
    // 23 with "No such file": the master has written no leases; nothing of ours is older than nothing.
    const missing = c.code === 23 && /No such file/.test(c.stderr);
    if (c.code !== 0 && !missing) return done({ ok: false, from: master.host, sessions, leaseFiles, error: `copy of ${src.path} from ${targetName(t)}: ${firstLines(describeFailure(c), 1)}` });
    if (!missing) leaseFiles++;
    // What was taken: rsync's count of files it wrote (0: ours was already the same) and, for dnsmasq, the leases in the file now.
    const stats = parseRsyncStats(c.stdout);
    const taken = missing || src.kind === 'DHCPv6PrefixDelegation' ? undefined : parseDnsmasqLeases((await deps.local.readFile(src.path).catch(() => undefined)) ?? '');
    deps.log.info(
      {
        resource: resourceId(vip),
        sync: resourceId(r),
        target: targetName(t),
        action: 'handover-pull-leases',
        path: src.path,
        outcome: missing ? 'absent-on-master' : 'ok',
        ...(stats ? { filesTransferred: stats.filesTransferred, bytesReceived: stats.bytesReceived } : {}),
        ...(taken?.ok ? { leases: taken.leases.v4.length + taken.leases.v6.length } : {}),
        durationMs: Math.round(performance.now() - t0),
      },
      missing ? `${targetName(t)} has no ${src.path}` : `${src.path} taken from ${targetName(t)}`,
    );
  }
  return done({ ok: true, from: master.host, sessions, leaseFiles });
}

/** What makes two entries the same session with the same NAT and mark. */
function sessionKey(e: ConntrackEntry): string {
  const o = e.original;
  return [e.protocol, o.src, o.dst, o.sport, o.dport, o.type, o.code, o.id, e.reply.dst, e.reply.dport, e.reply.id, e.mark].join(' ');
}

async function dumpSessions(host: Host, addresses: readonly string[]): Promise<{ entries: ConntrackEntry[]; error?: string }> {
  const entries: ConntrackEntry[] = [];
  for (const addr of addresses) {
    const d = await host.run(conntrackDumpArgv({ format: 'extended', family: 'ipv4', snatAddress: addr }), { timeoutMs: 120_000 });
    if (d.code !== 0) return { entries, error: `dump of ${addr}: ${firstLines(describeFailure(d), 1)}` };
    entries.push(...parseConntrackExtended(d.stdout).entries.filter((e) => SYNCED_PROTOCOLS.has(e.protocol) && snatAddress(e) === addr));
  }
  return { entries };
}

/** How long one attempt waits for the resync to bring every one of the master's sessions. */
const CONNTRACKD_RESYNC_WAIT_MS = 10_000;

/**
 * Mode conntrackd: the state comes through conntrackd, not through a restore
 * (an entry routerd writes would be an event this router's conntrackd sends
 * back to the master, whose conntrackd then deletes and re-creates its live
 * entry). Our conntrackd first forgets its internal cache (it holds this
 * router's own flows from when it was master), so deleting our stale entries
 * for the SNAT addresses sends nothing to the master; then it asks the master
 * for a resync (-n), and the master's entries are created afresh in our kernel
 * (DisableExternalCache). Done when every session the master holds for those
 * addresses (dumped over ssh) is in our kernel with the same NAT and mark.
 */
async function takeViaConntrackd(
  r: SessionSync,
  addresses: readonly string[],
  remote: Host,
  masterHost: string,
  deps: PullDeps,
): Promise<{ ok: true; entries: number; deleted: number } | { ok: false; error: string }> {
  const conf = conntrackdPaths(deps.planCtx.paths, r.metadata.name).conf;
  const ctl = async (args: string[]) => {
    const c = await deps.local.run(['conntrackd', '-C', conf, ...args], { timeoutMs: 30_000 });
    return c.code === 0 ? undefined : `conntrackd ${args.join(' ')}: ${firstLines(describeFailure(c), 1)}`;
  };
  deps.progress(`replacing this router's sessions with ${masterHost}'s through conntrackd`);
  const flushed = await ctl(['-f', 'internal']);
  if (flushed) return { ok: false, error: flushed };
  let deleted = 0;
  for (const addr of addresses) {
    const d = await deps.local.run(conntrackDeleteBySnatArgv(addr), { timeoutMs: 60_000 });
    const n = /(\d+) flow entries have been deleted/.exec(d.stderr);
    if (d.code !== 0 && !(d.code === 1 && n?.[1] === '0')) return { ok: false, error: `deleting our sessions of ${addr}: ${firstLines(describeFailure(d), 1)}` };
    deleted += Number(n?.[1] ?? 0);
  }
  const asked = await ctl(['-n']);
  if (asked) return { ok: false, error: asked };
  const until = Date.now() + CONNTRACKD_RESYNC_WAIT_MS;
  let last = '';
  while (!deps.signal.aborted) {
    const theirs = await dumpSessions(remote, addresses);
    if (theirs.error) return { ok: false, error: `${masterHost}: ${theirs.error}` };
    const ours = await dumpSessions(deps.local, addresses);
    if (ours.error) return { ok: false, error: ours.error };
    const have = new Set(ours.entries.map(sessionKey));
    const missing = theirs.entries.filter((e) => !have.has(sessionKey(e))).length;
    deps.progress(`waiting for sessions from ${masterHost} through conntrackd (${theirs.entries.length - missing} of ${theirs.entries.length} received)`);
    if (missing === 0) return { ok: true, entries: theirs.entries.length, deleted };
    last = `${missing} of ${theirs.entries.length} sessions not in the kernel yet`;
    if (Date.now() > until) break;
    await new Promise((res) => setTimeout(res, 250));
  }
  return { ok: false, error: deps.signal.aborted ? 'aborted' : `conntrackd resync from ${masterHost}: ${last}` };
}
