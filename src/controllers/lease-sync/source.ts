// Reading a lease source for sync: a stable copy of the dnsmasq lease file (or
// of the dhcpcd state directory), validated before it may replace the target's
// copy, then staged in the run dir with the source's mtime so rsync pushes that
// snapshot, not a file dnsmasq may be rewriting at that moment.
//
// The source is read with node:fs rather than through the Host: routerd runs on
// the router itself (in the lab, inside the node's mount namespace), it needs
// binary contents and mtimes the Host interface does not carry, and the same
// process watches the directory with inotify.
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { LeaseSourceKind } from '../../api/paths.ts';
import { activeLeaseCount, parseDnsmasqLeases } from '../../engines/dnsmasq/leases.ts';
import { parseDhcpcdState } from '../../engines/dhcpcd/state.ts';

export interface SnapshotFile {
  readonly name: string;
  readonly data: Buffer;
  readonly mtimeMs: number;
  readonly mode: number;
}

export interface SourceSnapshot {
  readonly files: readonly SnapshotFile[];
  readonly bytes: number;
  /** Content digest (names and data): unchanged digest, nothing new to push. */
  readonly digest: string;
  /** Leases still valid (dnsmasq), or delegated prefixes (dhcpcd). */
  readonly leaseCount: number;
  readonly summary: string;
}

export type SourceRead =
  | { readonly state: 'missing'; readonly message: string }
  | { readonly state: 'invalid'; readonly error: string }
  | { readonly state: 'ok'; readonly snapshot: SourceSnapshot };

const STABLE_TRIES = 10;
const STABLE_WAIT_MS = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Read a file whose size, mtime and inode did not change while it was read; undefined if absent. */
export async function readStable(path: string): Promise<{ data: Buffer; mtimeMs: number; mode: number } | 'unstable' | undefined> {
  for (let i = 0; i < STABLE_TRIES; i++) {
    try {
      const before = await stat(path);
      const fh = await open(path, 'r');
      let data: Buffer;
      try {
        data = await fh.readFile();
      } finally {
        await fh.close();
      }
      const after = await stat(path);
      if (before.ino === after.ino && before.mtimeMs === after.mtimeMs && before.size === after.size && data.length === after.size)
        return { data, mtimeMs: after.mtimeMs, mode: after.mode & 0o777 };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    await sleep(STABLE_WAIT_MS);
  }
  return 'unstable';
}

function digestOf(files: readonly SnapshotFile[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(f.name).update('\0').update(String(f.data.length)).update('\0').update(f.data);
  return h.digest('hex').slice(0, 16);
}

function snapshot(files: SnapshotFile[], leaseCount: number, summary: string): SourceRead {
  return { state: 'ok', snapshot: { files, bytes: files.reduce((n, f) => n + f.data.length, 0), digest: digestOf(files), leaseCount, summary } };
}

/** dnsmasq lease file: one file, validated line by line. */
async function readLeaseFile(path: string, nowSec: number): Promise<SourceRead> {
  const r = await readStable(path);
  if (r === undefined) return { state: 'missing', message: `${path} does not exist yet (dnsmasq has written no leases)` };
  if (r === 'unstable') return { state: 'invalid', error: `${path} kept changing while it was read` };
  const parsed = parseDnsmasqLeases(r.data.toString('latin1'));
  if (!parsed.ok) return { state: 'invalid', error: `${path}: ${parsed.error}` };
  const { v4, v6, serverDuid } = parsed.leases;
  const active = activeLeaseCount(parsed.leases, nowSec);
  const summary = `${active} active lease(s) (${v4.length} v4, ${v6.length} v6 in file${serverDuid ? `; server DUID ${serverDuid}` : ''})`;
  return snapshot([{ name: basename(path), ...r }], active, summary);
}

/** dhcpcd state directory: duid and *.lease6 validated, the rest copied as is. */
async function readStateDir(dir: string): Promise<SourceRead> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile() && !d.name.startsWith('.')).map((d) => d.name).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing', message: `${dir} does not exist yet (dhcpcd has not run)` };
    throw e;
  }
  const files: SnapshotFile[] = [];
  for (const name of names) {
    const r = await readStable(join(dir, name));
    if (r === undefined) continue;
    if (r === 'unstable') return { state: 'invalid', error: `${join(dir, name)} kept changing while it was read` };
    files.push({ name, ...r });
  }
  if (!files.some((f) => f.name === 'duid')) return { state: 'missing', message: `${dir} holds no DUID yet (dhcpcd has not run)` };
  const parsed = parseDhcpcdState(new Map(files.map((f) => [f.name, f.data])));
  if (!parsed.ok) return { state: 'invalid', error: `${dir}: ${parsed.error}` };
  const prefixes = parsed.state.leases.flatMap((l) => l.prefixes.map((p) => `${p.prefix}/${p.prefixLength}`));
  return snapshot(files, prefixes.length, `DUID ${parsed.state.duid}${prefixes.length ? `, delegated ${prefixes.join(', ')}` : ', no lease yet'}`);
}

export async function readLeaseSource(kind: LeaseSourceKind, path: string, nowSec = Math.floor(Date.now() / 1000)): Promise<SourceRead> {
  return kind === 'DHCPv6PrefixDelegation' ? readStateDir(path.replace(/\/+$/, '')) : readLeaseFile(path, nowSec);
}

/**
 * Write the snapshot under `stagingDir` (each file by temp + rename, with the
 * source's mtime and mode) and return the rsync source path: the file, or the
 * directory with a trailing slash.
 */
export async function stageSnapshot(kind: LeaseSourceKind, snap: SourceSnapshot, stagingDir: string): Promise<string> {
  const dir = kind === 'DHCPv6PrefixDelegation' ? join(stagingDir, 'state') : stagingDir;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const f of snap.files) {
    const dest = join(dir, f.name);
    const tmp = join(dir, `.${f.name}.staging`);
    await writeFile(tmp, f.data, { mode: f.mode });
    // Seconds with a fraction: a Date would drop the sub-millisecond part.
    await utimes(tmp, f.mtimeMs / 1000, f.mtimeMs / 1000);
    await rename(tmp, dest);
  }
  if (kind === 'DHCPv6PrefixDelegation') {
    const keep = new Set(snap.files.map((f) => f.name));
    for (const name of await readdir(dir)) if (!keep.has(name)) await rm(join(dir, name), { force: true });
    return `${dir}/`;
  }
  return join(dir, snap.files[0]!.name);
}
