// Per pool, this node's view of the other members and its own readiness, and
// the session work the gate needs: pull before claiming, push while owning.
// The ready file (runDir/pool/NAME/ready) is how members tell each other they
// may own addresses: written once this node holds the sessions of what it
// will own, removed when routerd starts; read by the others over ssh.
import { join } from 'node:path';
import type { ResourceOf } from '../../api/kinds.ts';
import { sshControlDir, type NodePaths } from '../../api/paths.ts';
import { describeFailure, type Host } from '../../host/host.ts';
import { applyRestore, snatRestoreBatch } from '../../kernel/conntrack-batch.ts';
import { conntrackDumpArgv, parseConntrackExtended, snatAddress } from '../../kernel/conntrack.ts';
import type { SshHost } from '../../transport/ssh-host.ts';
import type { ControllerContext } from '../controller.ts';
import { targetHost } from '../session-sync/controller.ts';
import { SessionSyncWorker, type SyncTarget } from '../session-sync/worker.ts';
import type { ResourceStatus } from '../status.ts';
import { DEFAULT_SNAPSHOT_INTERVAL, DEFAULT_STREAM_RESYNC_INTERVAL } from '../session-sync/schema.ts';
import { parseDuration } from '../../api/primitives.ts';
import type { TargetStatus } from '../session-sync/worker.ts';
import { eligibleMembers, holdTakeover, parseSyncMark, pullsNeeded, pushTargets, servedPushes, viewComplete, type MemberView, type SyncMark } from './gate.ts';
import { assign } from './ownership.ts';

type Pool = ResourceOf<'NAT44AddressPool'>;

/** A member whose BFD session never came up counts as "unknown" (not down) this long after start. */
export const STARTUP_GRACE_MS = 8000;

export function readyFilePath(paths: NodePaths, pool: string): string {
  return join(paths.runDir, 'pool', pool, 'ready');
}

/** A successor that has no good recent sync from a dead owner waits at most this long before it takes the owner's addresses anyway. */
export const TAKEOVER_MAX_HOLD_MS = 10_000;

/** Where an owner records, on the member it pushes to, how its last push went (`ok TIME` / `failed TIME`). */
export function syncMarkPath(paths: NodePaths, pool: string, from: string): string {
  return join(paths.runDir, 'pool', pool, 'synced-from', from);
}

/** Copy the sessions of one SNAT address from a member (over ssh) into the local table; returns how many. */
export async function pullSessions(local: Host, from: Host, address: string, fromName = from.description): Promise<number> {
  const dump = await from.run(conntrackDumpArgv({ format: 'extended', family: 'ipv4', snatAddress: address }), { timeoutMs: 120_000, maxOutputBytes: 512 * 1024 * 1024 });
  if (dump.code !== 0) throw new Error(`pull ${address} from ${fromName}: ${describeFailure(dump)}`);
  const list = parseConntrackExtended(dump.stdout).entries.filter((e) => snatAddress(e) === address && ['tcp', 'udp', 'icmp'].includes(e.protocol));
  const batch = snatRestoreBatch(address, list);
  const r = await applyRestore(local, batch.text, { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`restore ${address} from ${fromName}: ${describeFailure(r)}`);
  return batch.entries.length;
}

export class PoolMembers {
  selfReady: boolean;
  private pulling = false;
  private readonly views = new Map<string, MemberView>();
  private readonly everUp = new Set<string>();
  private readonly workers = new Map<string, SessionSyncWorker>();
  readonly syncStatus = new Map<string, ResourceStatus>();
  private readonly startedAt = Date.now();
  readySince: string | undefined;
  /** Members that were eligible when their BFD session went down: when. */
  private readonly downAt = new Map<string, number>();
  /** The marks the other members wrote here (read with the ready files). */
  private readonly marks = new Map<string, SyncMark>();
  /** The mark this node last wrote on each push target, and the targets a write is under way to (one at a time). */
  private readonly written = new Map<string, string>();
  private readonly marking = new Set<string>();
  /** Members whose addresses this node holds back from taking over, as last logged. */
  private held: string[] = [];

  constructor(
    private pool: Pool,
    private readonly self: string,
  ) {
    this.selfReady = pool.spec.sync === undefined;
    if (this.selfReady) this.readySince = new Date().toISOString();
    // Until BFD says otherwise every other member is up, in the state the grace period gives it: nobody's addresses are claimed at boot.
    for (const m of pool.spec.members) if (m.node !== self) this.views.set(m.node, { up: true, ready: this.selfReady ? true : undefined });
  }

  update(pool: Pool): void {
    this.pool = pool;
  }

  get name(): string {
    return this.pool.metadata.name;
  }

  private get members(): string[] {
    return this.pool.spec.members.map((m) => m.node);
  }

  private target(node: string): SyncTarget {
    const m = this.pool.spec.members.find((x) => x.node === node)!;
    const s = this.pool.spec.sync;
    return { name: node, host: m.address, port: s?.port ?? 22, ...(s?.user ? { user: s.user } : {}), sshOptions: s?.sshOptions ?? [], restoreCommand: ['conntrack'] };
  }

  private ssh(ctx: ControllerContext, node: string): SshHost {
    return targetHost(ctx.host, this.target(node), sshControlDir(ctx.paths));
  }

  /** Feed BFD session states (peer address → up?). */
  observeBfd(bfd: ReadonlyMap<string, boolean>, now = Date.now()): void {
    for (const m of this.pool.spec.members) {
      if (m.node === this.self) continue;
      if (this.pool.spec.liveness === undefined) {
        this.views.set(m.node, { up: true, ready: this.pool.spec.sync === undefined ? true : this.views.get(m.node)?.ready });
        continue;
      }
      const bfdUp = bfd.get(m.address) === true;
      if (bfdUp) this.everUp.add(m.node);
      const known = bfdUp || this.everUp.has(m.node) || now - this.startedAt >= STARTUP_GRACE_MS;
      const prev = this.views.get(m.node);
      if (bfdUp) this.downAt.delete(m.node);
      else if (known && prev?.up === true && prev.ready === true && !this.downAt.has(m.node)) this.downAt.set(m.node, now);
      if (!known) this.views.set(m.node, { up: true, ready: this.pool.spec.sync === undefined ? true : undefined });
      else if (!bfdUp) this.views.set(m.node, { up: false, ready: undefined });
      // Without session sync there is nothing to wait for: up means ready.
      else this.views.set(m.node, { up: true, ready: this.pool.spec.sync === undefined ? true : prev?.up === true ? prev.ready : undefined });
    }
  }

  /** Members whose ready file could not be read at the last poll: why (logged when it starts and when it ends). */
  private readonly unreadable = new Map<string, string>();

  /** Read the ready file of every up member, and the sync marks they left here (sync pools only). */
  async pollReady(ctx: ControllerContext, id: string): Promise<void> {
    if (this.pool.spec.sync === undefined) return;
    for (const m of this.members) {
      if (m === this.self) continue;
      const mark = parseSyncMark(await ctx.host.readFile(syncMarkPath(ctx.paths, this.name, m)).catch(() => undefined));
      if (mark) this.marks.set(m, mark);
      else this.marks.delete(m);
    }
    const path = readyFilePath(ctx.paths, this.name);
    await Promise.all(
      [...this.views].map(async ([node, v]) => {
        if (!v.up) return;
        const r = await this.ssh(ctx, node).run(['cat', path], { timeoutMs: 3000 });
        // Only cat's own "no such file" means not ready; ssh failing (exit 255) tells nothing and leaves the view as it was.
        const missing = r.code === 1 && /^cat: .*No such file/m.test(r.stderr);
        if (r.code !== 0 && !missing) {
          if (!this.unreadable.has(node)) ctx.log.warn({ resource: id, action: 'pool-ready-poll', target: node, outcome: 'error', err: describeFailure(r) }, `${id}: cannot read ${node}'s ready file; its state stays as it was`);
          this.unreadable.set(node, describeFailure(r));
          return;
        }
        if (this.unreadable.delete(node)) ctx.log.info({ resource: id, action: 'pool-ready-poll', target: node, outcome: 'ok', ready: !missing }, `${id}: reads ${node}'s ready file again`);
        const ready = r.code === 0 && r.stdout.trim().length > 0;
        const cur = this.views.get(node);
        if (cur?.up) this.views.set(node, { up: true, ready });
      }),
    );
  }

  upMembers(): string[] {
    return this.members.filter((m) => m === this.self || this.views.get(m)?.up === true);
  }

  /**
   * Members that may own addresses, as this node plans. A member that just
   * died stays in the list while this node holds back its takeover: this node
   * succeeds to some of its addresses, but its last sync from it failed or is
   * stale (holdTakeover), so it does not claim them yet.
   */
  eligible(now = Date.now()): string[] {
    const base = eligibleMembers(this.members, this.self, this.selfReady, this.views);
    const held = this.heldBack(base, now);
    return held.length ? this.members.filter((m) => base.includes(m) || held.includes(m)) : base;
  }

  private heldBack(base: readonly string[], now: number): string[] {
    const sync = this.pool.spec.sync;
    if (sync === undefined || !this.selfReady) return [];
    const staleMs = 1.5 * this.syncIntervalMs() + 2000;
    return [...this.downAt]
      .filter(([node, at]) => {
        if (!holdTakeover(this.marks.get(node), at, now, staleMs, TAKEOVER_MAX_HOLD_MS)) return false;
        // Only a member whose addresses (some of them) come to this node.
        const before = this.members.filter((m) => base.includes(m) || m === node);
        return assign(this.pool.spec.addresses, before).some((a) => a.owner === node && a.successor === this.self);
      })
      .map(([node]) => node);
  }

  private syncIntervalMs(): number {
    const s = this.pool.spec.sync;
    return parseDuration(s?.interval ?? (s?.mode === 'snapshot' ? DEFAULT_SNAPSHOT_INTERVAL : DEFAULT_STREAM_RESYNC_INTERVAL)) ?? 30_000;
  }

  /** Log when the set of members whose takeover this node holds back changes. */
  noteHolds(ctx: ControllerContext, id: string, now = Date.now()): void {
    const held = this.heldBack(eligibleMembers(this.members, this.self, this.selfReady, this.views), now);
    if (held.join(',') === this.held.join(',')) return;
    const started = held.filter((m) => !this.held.includes(m));
    const ended = this.held.filter((m) => !held.includes(m));
    this.held = held;
    for (const m of started) {
      const mark = this.marks.get(m);
      ctx.log.warn(
        { resource: id, action: 'pool-hold', member: m, lastSync: mark ? `${mark.ok ? 'ok' : 'failed'} ${new Date(mark.at).toISOString()}` : 'none', maxHoldMs: TAKEOVER_MAX_HOLD_MS },
        `${id}: ${m} is down but the last sync from it failed or is stale; holding back the takeover of its addresses`,
      );
    }
    for (const m of ended) ctx.log.info({ resource: id, action: 'pool-hold-end', member: m, up: this.views.get(m)?.up === true }, `${id}: no longer holding back for ${m}`);
  }

  /**
   * The gate for this node: once it knows every member's state, pull the
   * sessions of each address it will own from their holder, then say so.
   */
  async maybeBecomeReady(ctx: ControllerContext, id: string): Promise<void> {
    if (this.selfReady || this.pulling || !viewComplete(this.members, this.self, this.views)) return;
    this.pulling = true;
    try {
      const others = this.eligible().filter((m) => m !== this.self);
      const pulls = pullsNeeded(this.pool.spec.addresses, this.self, others);
      const t0 = performance.now();
      let entries = 0;
      for (const p of pulls) entries += await pullSessions(ctx.host, this.ssh(ctx, p.from), p.address, p.from);
      const path = readyFilePath(ctx.paths, this.name);
      await ctx.host.mkdirp(join(ctx.paths.runDir, 'pool', this.name));
      this.readySince = new Date().toISOString();
      await ctx.host.writeFileAtomic(path, `${this.readySince}\n`, 0o644);
      this.selfReady = true;
      ctx.log.info(
        { resource: id, action: 'pool-ready', pulls: pulls.map((p) => `${p.address}<${p.from}`), entries, durationMs: Math.round(performance.now() - t0) },
        `${id}: holds the sessions of ${pulls.length} address(es) it takes over (${entries} entries); ready`,
      );
    } catch (e) {
      ctx.log.warn({ resource: id, action: 'pool-pull', outcome: 'error', err: (e as Error).message }, `${id}: pulling sessions failed; retrying`);
    } finally {
      this.pulling = false;
    }
  }

  /** Push workers: one per target member, carrying the owned addresses it must hold. */
  reconcilePushes(ctx: ControllerContext, id: string, local: Host, serving?: ReadonlySet<string>): void {
    const sync = this.pool.spec.sync;
    const want = sync && this.selfReady ? servedPushes(pushTargets(this.pool.spec.addresses, this.self, this.eligible(), this.upMembers()), serving) : new Map<string, string[]>();
    for (const [node, w] of [...this.workers]) {
      const addrs = want.get(node);
      const spec = this.workerSpec(node);
      if (addrs && w.matches(spec, addrs)) continue;
      w.stop();
      this.workers.delete(node);
      this.syncStatus.delete(node);
      ctx.log.info({ resource: id, action: 'pool-push-stop', target: node }, `${id}: stopped pushing to ${node}`);
    }
    for (const [node, addrs] of want) {
      if (this.workers.has(node)) continue;
      const w = new SessionSyncWorker(`${id}/${node}`, this.workerSpec(node), addrs, {
        local,
        remote: () => this.ssh(ctx, node),
        log: ctx.log,
        metrics: ctx.metrics,
        report: (s) => {
          this.syncStatus.set(node, s);
          void this.writeMark(ctx, node, s);
        },
        generation: () => ctx.generation(id),
      });
      this.workers.set(node, w);
      ctx.log.info({ resource: id, action: 'pool-push-start', target: node, addresses: addrs }, `${id}: pushing the sessions of ${addrs.join(', ')} to ${node}`);
      w.start();
    }
  }

  /** Tell the target how the last push to it went: after each full sync, and on a failure (best effort: a broken link cannot carry it, and the target then finds the last ok stale). */
  private async writeMark(ctx: ControllerContext, node: string, s: ResourceStatus): Promise<void> {
    const t = (s.targets as TargetStatus[] | undefined)?.find((x) => x.name === node);
    const text = t?.phase === 'Synced' && t.lastFullSyncTime ? `ok ${t.lastFullSyncTime}` : t?.phase === 'Degraded' ? 'failed' : undefined;
    if (text === undefined || this.marking.has(node) || (text === 'failed' ? this.written.get(node)?.startsWith('failed') : this.written.get(node) === text)) return;
    const line = text === 'failed' ? `failed ${new Date().toISOString()}` : text;
    this.written.set(node, line);
    this.marking.add(node);
    const path = syncMarkPath(ctx.paths, this.name, this.self);
    try {
      const r = await this.ssh(ctx, node)
        .run(['sh', '-c', 'mkdir -p "${1%/*}" && printf "%s\\n" "$2" > "$1.tmp" && mv "$1.tmp" "$1"', 'routerd-mark', path, line], { timeoutMs: 5000 })
        .catch((e: Error) => ({ code: -1, stderr: e.message }));
      // An ok mark is tried again at the next report; a failed one once per failure (the link is probably down anyway).
      if (r.code !== 0 && text !== 'failed') this.written.delete(node);
    } finally {
      this.marking.delete(node);
    }
  }

  private workerSpec(node: string) {
    const s = this.pool.spec.sync!;
    return {
      mode: s.mode,
      ...(s.interval ? { interval: s.interval } : {}),
      natRules: [],
      excludeNatRules: [],
      snatAddresses: [],
      targets: [this.target(node)],
    };
  }

  stop(): void {
    for (const w of this.workers.values()) w.stop();
    this.workers.clear();
  }
}
