// Read-only view of a node: links and addresses, routerd's nftables tables,
// the conntrack count and the files routerd renders. A tool that is missing or
// fails leaves its part undefined ("not observed"), which planners report.
import type { Host } from '../host/host.ts';
import { conntrackCountArgv, parseConntrackCount } from '../kernel/conntrack.ts';
import { ipAddrShowArgv, parseIpAddr } from '../kernel/ip.ts';
import { nftListTablesArgv, parseNftJson } from '../kernel/nft.ts';
import { nftListTableTextArgv, parseTableComment } from '../kernel/nft-owned.ts';
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
  const [interfaces, nftTables, conntrackCount, files, existing] = await Promise.all([
    observeInterfaces(host, problems),
    observeOwnedTables(host, problems),
    observeConntrackCount(host, problems),
    readFiles(host, want.contents),
    existingPaths(host, want.existence),
  ]);
  return { observed: { interfaces, nftTables, conntrackCount, files, existing }, problems };
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

async function observeOwnedTables(host: Host, problems: string[]): Promise<Map<string, string | undefined> | undefined> {
  const r = await host.run(nftListTablesArgv(), { timeoutMs: 10_000 });
  if (r.code !== 0) {
    problems.push(`nft: ${r.stderr.trim() || `exit ${r.code}`}`);
    return undefined;
  }
  const { ruleset, errors } = parseNftJson(r.stdout);
  for (const e of errors) problems.push(`nft ${e.path}: ${e.message}`);
  const owned = ruleset.tables.filter((t) => t.name.startsWith(OWNED_TABLE_PREFIX));
  const out = new Map<string, string | undefined>();
  await Promise.all(
    owned.map(async (t) => {
      const listing = await host.run(nftListTableTextArgv(t.family, t.name), { timeoutMs: 10_000 });
      const comment = listing.code === 0 ? parseTableComment(listing.stdout) : undefined;
      out.set(`${t.family} ${t.name}`, comment?.startsWith(DIGEST_PREFIX) ? comment.slice(DIGEST_PREFIX.length) : undefined);
    }),
  );
  return out;
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
