// StatelessNAT44 → one nftables table (routerd_stateless). The table is
// replaced whole only when it is missing, foreign, or its structure digest
// differs (interfaces changed); otherwise the live map elements are read (with
// their counters, which go into the status) and only the elements that differ
// are deleted and added, in one `nft -f` transaction, so changing one mapping
// among thousands leaves the others and their counters alone.
//
// A pass that changes nothing costs nothing in proportion to the table: when
// the elements digest the table carries (routerd_state, read by observe)
// equals the desired one, the maps are not read. They are read, diffed and
// healed anyway (someone may have edited them by hand, and the read refreshes
// the per-mapping counters in the status) once 100 × the last read's duration
// has passed, at most VERIFY_MS apart: reading takes at most ~1% of the time,
// so a small table is read every pass and 10 000 mappings about every 1-2 min.
import { resourceId } from '../../api/kinds.ts';
import { applyTable, removeTable } from '../../engines/nft/apply.ts';
import {
  STATELESS_TABLE,
  changeCount,
  desiredElements,
  desiredStatelessTable,
  diffElements,
  renderElementChanges,
  type ElementsOf,
  type StatelessInterface,
} from '../../engines/nft/stateless.ts';
import { nftListTableJsonArgv, parseNftElements, type NftElement, type NftElementContainer } from '../../kernel/nft-elements.ts';
import type { Host } from '../../host/host.ts';
import { Outcome, type Controller, type ControllerContext, type ReconcileInput, type ReconcileOutcome } from '../controller.ts';
import { Phase, Reason } from '../status.ts';
import { describeMappings, heldExternals, layoutDigests, statelessTableKey, unownedExternals, unownedWarning, type StatelessPayload, type StatelessTableState } from './plan.ts';

export interface MappingStatus {
  readonly external: string;
  readonly internal: string;
  /** Packets translated external → internal (the in map element's counter). */
  readonly inPackets: number;
  /** Packets translated internal → external (the out map element's counter). */
  readonly outPackets: number;
}

/** Live containers of the table, by name; undefined when they cannot be read. */
export async function readLiveElements(host: Host): Promise<{ containers?: Map<string, NftElementContainer>; error?: string }> {
  const r = await host.run(nftListTableJsonArgv(STATELESS_TABLE.family, STATELESS_TABLE.name), { timeoutMs: 30_000 });
  if (r.code !== 0) return { error: r.stderr.trim() || `nft exited ${r.code}` };
  const { containers, errors } = parseNftElements(r.stdout);
  if (errors.length) return { error: `nft -j: ${errors[0]!.path}: ${errors[0]!.message}` };
  return { containers: new Map(containers.map((c) => [c.name, c])) };
}

function asElements(c: NftElementContainer): ElementsOf {
  return new Map(c.elements.map((e) => [e.key, e.value]));
}

const countersMemo = new WeakMap<object, { live: object | undefined; iface: object | undefined; counters: MappingStatus[] }>();

/** mappingCounters, computed once per (mappings, live read, layout): passes between two reads reuse it. */
function cachedCounters(
  iface: StatelessInterface | undefined,
  mappings: readonly { external: string; internal: string }[],
  live: ReadonlyMap<string, NftElementContainer> | undefined,
): MappingStatus[] {
  const hit = countersMemo.get(mappings);
  if (hit && hit.live === live && hit.iface === iface) return hit.counters;
  const counters = mappingCounters(iface, mappings, live);
  countersMemo.set(mappings, { live, iface, counters });
  return counters;
}

/** Per-mapping counters from the live maps; 0 where an element is new. */
export function mappingCounters(
  iface: StatelessInterface | undefined,
  mappings: readonly { external: string; internal: string }[],
  live: ReadonlyMap<string, NftElementContainer> | undefined,
): MappingStatus[] {
  // Index once: a linear search per mapping would be quadratic for thousands.
  const index = new Map<string, Map<string, NftElement>>();
  for (const name of [iface?.inMap, iface?.outMap]) {
    const c = name === undefined ? undefined : live?.get(name);
    if (name !== undefined && c) index.set(name, new Map(c.elements.map((e) => [e.key, e])));
  }
  const packets = (map: string | undefined, key: string, value: string): number => {
    const e = map === undefined ? undefined : index.get(map)?.get(key);
    return e && e.value === value ? (e.packets ?? 0) : 0;
  };
  return mappings.map((m) => ({
    external: m.external,
    internal: m.internal,
    inPackets: packets(iface?.inMap, m.external, m.internal),
    outPackets: packets(iface?.outMap, m.internal, m.external),
  }));
}

/** The longest time between two reads of a table whose elements digest matches. */
export const VERIFY_MS = 5 * 60_000;
/** Time between reads, as a multiple of the last read's duration. */
export const READ_SPACING = 100;

/** The live elements as last read, for counters between full reads. */
interface LastRead {
  readonly at: number;
  /** How long that read took (0 after a full replace: nothing was read). */
  readonly tookMs: number;
  readonly live: ReadonlyMap<string, NftElementContainer> | undefined;
}

type Converged =
  | { readonly kind: 'replaced' | 'unchanged'; readonly live?: ReadonlyMap<string, NftElementContainer> }
  | { readonly kind: 'elements'; readonly added: number; readonly deleted: number; readonly live: ReadonlyMap<string, NftElementContainer> }
  | { readonly kind: 'failed'; readonly error: string };

export class StatelessNAT44Controller implements Controller<'StatelessNAT44', StatelessPayload> {
  readonly name = 'stateless-nat44';
  readonly kind = 'StatelessNAT44';
  private lastRead: LastRead | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  async reconcile(input: ReconcileInput<'StatelessNAT44', StatelessPayload>, ctx: ControllerContext): Promise<ReconcileOutcome> {
    const resources = input.resources;
    const key = statelessTableKey();
    const payload = input.payload;
    if (payload.op === 'none') return Outcome.ok;
    if (payload.op === 'remove') {
      const r = await removeTable(ctx.host, STATELESS_TABLE);
      ctx.metrics.nftApplies.inc({ table: key, outcome: r.ok ? 'removed' : 'error' });
      ctx.log.info({ action: 'nft-remove', table: key, outcome: r.ok ? 'ok' : 'error', durationMs: r.durationMs }, `removed ${key}`);
      return r.ok ? Outcome.ok : Outcome.error(`nft: ${r.error}`);
    }
    const { layout, state } = payload;
    const outcome = await this.converge(layout, state, input, ctx);
    const live = outcome.kind === 'failed' ? undefined : outcome.live;
    const plans = new Map(input.plans.map((p) => [p.resource, p]));
    for (const r of resources) {
      const id = resourceId(r);
      const gen = ctx.generation(id);
      const dev = input.planCtx.ifname(r.spec.interface);
      const unowned = unownedExternals(r, input.planCtx);
      const warnings = unowned.length ? [unownedWarning(dev, unowned)] : [];
      if (outcome.kind === 'failed') {
        ctx.status.set(id, { phase: Phase.Failed, reason: Reason.ApplyFailed, message: `nft: ${outcome.error}`, observedGeneration: gen, warnings });
        continue;
      }
      const iface = layout.find((i) => i.ifname === dev);
      ctx.status.set(id, {
        ...(plans.get(id)?.status ?? {}),
        phase: Phase.Ready,
        reason: Reason.Applied,
        message: describeMappings(r, dev, heldExternals(r, input.observed)),
        observedGeneration: gen,
        table: key,
        ...(this.lastRead ? { countersReadAt: new Date(this.lastRead.at).toISOString() } : {}),
        externalAddresses: r.spec.mappings.map((m) => m.external),
        mappings: cachedCounters(iface, r.spec.mappings, live),
        warnings,
      });
    }
    return outcome.kind === 'failed' ? Outcome.error(`nft: ${outcome.error}`) : Outcome.ok;
  }

  /** Make the live table match the layout; returns what was done and the live elements (for counters). */
  private async converge(layout: readonly StatelessInterface[], state: StatelessTableState, input: ReconcileInput<'StatelessNAT44', StatelessPayload>, ctx: ControllerContext): Promise<Converged> {
    const key = statelessTableKey();
    const { structure: digest, elements: wantDigest } = layoutDigests(layout);
    let reason: string = state;
    if (state === 'current') {
      const marked = input.observed.nftElementDigests?.get(key) === wantDigest;
      const last = this.lastRead;
      if (marked && last && this.now() - last.at < Math.min(VERIFY_MS, READ_SPACING * last.tookMs))
        return { kind: 'unchanged', ...(last.live ? { live: last.live } : {}) };
      const readAt = this.now();
      const read = await readLiveElements(ctx.host);
      const live = read.containers;
      const want = desiredElements(layout);
      const complete = live !== undefined && [...want.keys()].every((n) => live.has(n));
      if (live && complete) {
        this.lastRead = { at: readAt, tookMs: this.now() - readAt, live };
        const changes = diffElements(want, new Map([...live].map(([n, c]) => [n, asElements(c)])));
        const script = renderElementChanges(changes, marked ? undefined : wantDigest);
        if (!script) return { kind: 'unchanged', live };
        const { added, deleted } = changeCount(changes);
        const r = await applyTable(ctx.host, script);
        ctx.metrics.nftApplies.inc({ table: key, outcome: r.ok ? 'elements' : 'error' });
        if (r.ok) {
          ctx.log.info({ action: 'nft-elements', table: key, outcome: 'ok', added, deleted, durationMs: r.durationMs }, `updated ${key} elements`);
          return { kind: 'elements', added, deleted, live };
        }
        // A failed element transaction changed nothing; a full replace converges from any state.
        ctx.log.warn({ action: 'nft-elements', table: key, outcome: 'error', err: r.error }, `element update of ${key} failed; replacing the table`);
        reason = `element update failed: ${r.error}`;
      } else reason = read.error ?? 'containers missing';
    }
    const r = await applyTable(ctx.host, desiredStatelessTable(layout).text);
    ctx.metrics.nftApplies.inc({ table: key, outcome: r.ok ? 'applied' : 'error' });
    if (!r.ok) {
      ctx.log.error({ action: 'nft-apply', table: key, outcome: 'error', err: r.error, durationMs: r.durationMs }, `nft rejected ${key}`);
      return { kind: 'failed', error: r.error };
    }
    // Every counter starts at 0 in a new table.
    this.lastRead = { at: this.now(), tookMs: 0, live: undefined };
    const mappings = layout.reduce((n, i) => n + i.mappings.length, 0);
    ctx.log.info({ action: 'nft-apply', table: key, outcome: 'ok', why: reason, mappings, digest, durationMs: r.durationMs }, `applied ${key}`);
    return { kind: 'replaced' };
  }

  async stop(): Promise<void> {
    // The table stays: translation goes on while routerd restarts.
  }
}
