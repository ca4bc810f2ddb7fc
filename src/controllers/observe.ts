// Read-only view of a node: links and addresses, routerd's nftables tables,
// the conntrack count and the files routerd renders. A tool that is missing or
// fails leaves its part undefined ("not observed"), which planners report.
import type { Host } from '../host/host.ts';
import { conntrackCountArgv, parseConntrackCount } from '../kernel/conntrack.ts';
import { ipAddrShowArgv, parseIpAddr } from '../kernel/ip.ts';
import type { NftFamily } from '../kernel/nft.ts';
import {
  ELEMENTS_DIGEST_PREFIX,
  STATE_ELEMENTS,
  STATE_SET,
  STATE_STRUCTURE,
  nftListChainsArgv,
  nftListSetNamesArgv,
  nftListStateSetArgv,
  nftListTableTextArgv,
  parseNftObjects,
  parseStateSet,
  parseTableComment,
} from '../kernel/nft-owned.ts';
import { DIGEST_PREFIX } from '../engines/nft/table.ts';
import type { Observed, ObservedInterface } from './types.ts';

export const OWNED_TABLE_PREFIX = 'routerd_';

export interface ObserveResult {
  readonly observed: Observed;
  /** Parts that could not be observed, in words. */
  readonly problems: string[];
}

export async function observeNode(host: Host, want: { contents: readonly string[]; existence: readonly string[] }): Promise<ObserveResult> {
  const problems: string[] = [];
  const [interfaces, tables, conntrackCount, files, existing] = await Promise.all([
    observeInterfaces(host, problems),
    observeOwnedTables(host, problems),
    observeConntrackCount(host, problems),
    readFiles(host, want.contents),
    existingPaths(host, want.existence),
  ]);
  const nft = tables ? { nftTables: tables.digests, nftElementDigests: tables.elementDigests } : {};
  return { observed: { interfaces, ...nft, conntrackCount, files, existing }, problems };
}

async function observeInterfaces(host: Host, problems: string[]): Promise<ObservedInterface[] | undefined> {
  const r = await host.run(ipAddrShowArgv(), { timeoutMs: 10_000 });
  if (r.code !== 0) {
    problems.push(`ip addr: ${r.stderr.trim() || `exit ${r.code}`}`);
    return undefined;
  }
  const parsed = parseIpAddr(r.stdout);
  for (const e of parsed.errors) problems.push(`ip addr ${e.path}: ${e.message}`);
  return parsed.items.map((i) => ({
    name: i.name,
    up: i.up,
    operState: i.operstate,
    ...(i.mac ? { mac: i.mac } : {}),
    addresses: i.addresses.map((a) => ({ family: a.family === 'inet' ? 4 : 6, address: a.local, prefixLength: a.prefixlen })),
  }));
}

interface OwnedTables {
  readonly digests: Map<string, string | undefined>;
  readonly elementDigests: Map<string, string>;
}

/**
 * routerd's tables and their digests, at a cost that does not grow with their
 * elements: tables are found by their chains and sets, and a table with a
 * routerd_state set is read through that set alone (src/kernel/nft-owned.ts).
 */
async function observeOwnedTables(host: Host, problems: string[]): Promise<OwnedTables | undefined> {
  const [chains, sets] = await Promise.all([host.run(nftListChainsArgv(), { timeoutMs: 10_000 }), host.run(nftListSetNamesArgv(), { timeoutMs: 10_000 })]);
  const failed = [chains, sets].find((r) => r.code !== 0);
  if (failed) {
    problems.push(`nft: ${failed.stderr.trim() || `exit ${failed.code}`}`);
    return undefined;
  }
  const tables = new Map<string, { family: NftFamily; name: string; stateSet: boolean }>();
  for (const listing of [chains.stdout, sets.stdout]) {
    const { objects, errors } = parseNftObjects(listing);
    for (const e of errors) problems.push(`nft ${e.path}: ${e.message}`);
    for (const o of objects) {
      if (!o.table.startsWith(OWNED_TABLE_PREFIX)) continue;
      const key = `${o.family} ${o.table}`;
      const t = tables.get(key) ?? { family: o.family, name: o.table, stateSet: false };
      tables.set(key, { ...t, stateSet: t.stateSet || (o.kind === 'set' && o.name === STATE_SET) });
    }
  }
  const digests = new Map<string, string | undefined>();
  const elementDigests = new Map<string, string>();
  const strip = (comment: string | undefined, prefix: string) => (comment?.startsWith(prefix) ? comment.slice(prefix.length) : undefined);
  await Promise.all(
    [...tables].map(async ([key, t]) => {
      if (t.stateSet) {
        const r = await host.run(nftListStateSetArgv(t.family, t.name), { timeoutMs: 10_000 });
        const { comments } = r.code === 0 ? parseStateSet(r.stdout) : { comments: new Map<number, string>() };
        digests.set(key, strip(comments.get(STATE_STRUCTURE), DIGEST_PREFIX));
        const elements = strip(comments.get(STATE_ELEMENTS), ELEMENTS_DIGEST_PREFIX);
        if (elements !== undefined) elementDigests.set(key, elements);
        return;
      }
      const listing = await host.run(nftListTableTextArgv(t.family, t.name), { timeoutMs: 10_000 });
      digests.set(key, strip(listing.code === 0 ? parseTableComment(listing.stdout) : undefined, DIGEST_PREFIX));
    }),
  );
  return { digests, elementDigests };
}

async function observeConntrackCount(host: Host, problems: string[]): Promise<number | undefined> {
  const r = await host.run(conntrackCountArgv(), { timeoutMs: 10_000 });
  const n = r.code === 0 ? parseConntrackCount(r.stdout) : undefined;
  if (n === undefined) problems.push(`conntrack -C: ${r.stderr.trim() || `exit ${r.code}`}`);
  return n;
}

async function readFiles(host: Host, paths: readonly string[]): Promise<Map<string, string | undefined>> {
  const entries = await Promise.all(paths.map(async (p) => [p, await host.readFile(p)] as const));
  return new Map(entries);
}

async function existingPaths(host: Host, paths: readonly string[]): Promise<Set<string>> {
  const found = await Promise.all(paths.map(async (p) => ((await host.exists(p)) ? p : undefined)));
  return new Set(found.filter((p): p is string => p !== undefined));
}
