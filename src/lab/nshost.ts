// NamespaceHost: a Host whose commands run inside one lab node, i.e. inside its
// network namespace and its persisted mount namespace, entered with nsenter.
//
// File operations: a path under one of the node's private directories (the
// bind mounts that make /var/lib/routerd etc. per node) is mapped to its backing
// directory on the host and handled by LocalHost directly: same file, no process
// per call, and rename stays atomic because backing dir and temp file share a
// file system. Every other path (/proc/sys/net/..., /sys/class/net/..., /etc/...)
// is handled by small argv commands run inside the node (cat, test, mkdir, dd,
// chmod, mv, rm), so it sees what the node sees. Caveat of the mapping: a
// symlink inside a private directory is resolved in the host's view.
import { posix } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CommandError } from '../host/host.ts';
import type { ChildHandle, Host, RunOptions, RunResult, SpawnOptions } from '../host/host.ts';
import { LocalHost } from '../host/local.ts';

export interface NamespaceHostOptions {
  /** Network namespace name, as in `ip netns` (/run/netns/NAME). */
  readonly netns: string;
  /** File a mount namespace is bound to (`unshare --mount=FILE`); omit to share the host's. */
  readonly mountNsFile?: string;
  /** Paths private to this node's mount namespace → their backing directories on the host. */
  readonly privateDirs?: Readonly<Record<string, string>>;
  /** Working directory inside the node; default: this process's cwd (the file system is shared). */
  readonly cwd?: string;
  /** Short label for logs; default "netns NAME". */
  readonly description?: string;
}

const FILE_OP_TIMEOUT_MS = 10_000;
// Fixed locale so that "No such file or directory" can be recognised.
const C_LOCALE = { LC_ALL: 'C' } as const;

// What these show depends on the reader's network namespace, even with shared mounts.
const NETNS_VIEWS = ['/proc', '/sys'] as const;

function isUnder(path: string, dir: string): boolean {
  const p = posix.normalize(path);
  return p === dir || p.startsWith(`${dir}/`);
}

export class NamespaceHost implements Host {
  readonly description: string;
  /** argv prefix that enters the node: `nsenter --net=... --mount=... --wd=... --`. */
  readonly enterArgv: readonly string[];
  private readonly local = new LocalHost();
  private readonly privateDirs: readonly (readonly [string, string])[];
  private readonly sharesHostMounts: boolean;

  constructor(opts: NamespaceHostOptions) {
    const argv = ['nsenter', `--net=/run/netns/${opts.netns}`];
    if (opts.mountNsFile !== undefined) argv.push(`--mount=${opts.mountNsFile}`);
    // Entering a mount namespace resets the cwd to its root; keep ours so that
    // relative paths and module resolution behave as with LocalHost.
    argv.push(`--wd=${opts.cwd ?? process.cwd()}`, '--');
    this.enterArgv = argv;
    this.description = opts.description ?? `netns ${opts.netns}`;
    this.sharesHostMounts = opts.mountNsFile === undefined;
    // Longest first, so that nested private dirs map to the innermost one.
    this.privateDirs = Object.entries(opts.privateDirs ?? {})
      .map(([inside, backing]) => [posix.normalize(inside).replace(/\/+$/, ''), backing] as const)
      .sort((a, b) => b[0].length - a[0].length);
  }

  run(argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return this.local.run([...this.enterArgv, ...argv], opts);
  }

  spawn(argv: readonly string[], opts?: SpawnOptions): ChildHandle {
    return this.local.spawn([...this.enterArgv, ...argv], opts);
  }

  /** The host path that holds `path` when it lies in a private dir, else undefined. */
  backingPath(path: string): string | undefined {
    if (!path.startsWith('/')) return undefined;
    const p = posix.normalize(path);
    for (const [inside, backing] of this.privateDirs) {
      if (p === inside) return backing;
      if (p.startsWith(`${inside}/`)) return posix.join(backing, p.slice(inside.length + 1));
    }
    return undefined;
  }

  /** Path on the host to use directly, or undefined when only the node can see it. */
  private direct(path: string): string | undefined {
    if (this.sharesHostMounts) return NETNS_VIEWS.some((v) => isUnder(path, v)) ? undefined : path;
    return this.backingPath(path);
  }

  async readFile(path: string): Promise<string | undefined> {
    const direct = this.direct(path);
    if (direct !== undefined) return this.local.readFile(direct);
    const r = await this.run(['cat', '--', path], { timeoutMs: FILE_OP_TIMEOUT_MS, env: C_LOCALE });
    if (r.code === 0 && !r.timedOut) return r.stdout;
    if (r.code === 1 && /No such file or directory\s*$/.test(r.stderr)) return undefined;
    throw new CommandError(r);
  }

  async writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
    const direct = this.direct(path);
    if (direct !== undefined) return this.local.writeFileAtomic(direct, data, mode);
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    const opts = { timeoutMs: FILE_OP_TIMEOUT_MS, env: C_LOCALE };
    await this.checked(['mkdir', '-p', '--', posix.dirname(path)], opts);
    try {
      await this.checked(['dd', `of=${tmp}`, 'status=none', 'conv=fsync'], { ...opts, stdin: data });
      await this.checked(['chmod', mode.toString(8), '--', tmp], opts);
      await this.checked(['mv', '-fT', '--', tmp, path], opts);
    } catch (e) {
      await this.run(['rm', '-f', '--', tmp], opts);
      throw e;
    }
  }

  async mkdirp(path: string, mode = 0o755): Promise<void> {
    const direct = this.direct(path);
    if (direct !== undefined) return this.local.mkdirp(direct, mode);
    await this.checked(['mkdir', '-p', '-m', mode.toString(8), '--', path], { timeoutMs: FILE_OP_TIMEOUT_MS });
  }

  async remove(path: string): Promise<void> {
    const direct = this.direct(path);
    if (direct !== undefined) return this.local.remove(direct);
    await this.checked(['rm', '-rf', '--', path], { timeoutMs: FILE_OP_TIMEOUT_MS });
  }

  async exists(path: string): Promise<boolean> {
    const direct = this.direct(path);
    if (direct !== undefined) return this.local.exists(direct);
    const r = await this.run(['test', '-e', path], { timeoutMs: FILE_OP_TIMEOUT_MS });
    if (r.code === 0) return true;
    if (r.code === 1) return false;
    throw new CommandError(r);
  }

  private async checked(argv: readonly string[], opts: RunOptions): Promise<RunResult> {
    const r = await this.run(argv, opts);
    if (r.code !== 0 || r.timedOut) throw new CommandError(r);
    return r;
  }
}
