// A Host whose commands run on a standby over ssh, so kernel helpers written
// for a Host (conntrack -R batches, counts, dumps) work unchanged on a target.
// argv[0] can be mapped (conntrack → the target's restoreCommand, e.g.
// [sudo, conntrack]); bulk stdin is streamed through ssh, never put in argv.
import { isIP } from 'node:net';
import type { ChildHandle, Host, RunOptions, RunResult, SpawnOptions } from '../host/host.ts';
import { sshArgv, type SshConnectionOptions, type SshTarget } from './ssh.ts';

/** ssh exits 255 when it could not connect or authenticate (or the connection broke). */
export const SSH_CONNECT_FAILURE = 255;

/**
 * A constant wrapper that runs its arguments with stdout discarded on the
 * target: `conntrack -R` echoes every entry a `-D` line deletes (17 MB for a
 * 100k replace, measured in bench/), which would only cross the network to be
 * dropped. The command travels as positional arguments, never in the script.
 */
const DISCARD_STDOUT = ['sh', '-c', 'exec "$@" >/dev/null', 'routerd-quiet'];

/** Exit code of a restore the target refused because it holds the addresses (it is master). */
export const TARGET_IS_MASTER = 75;

/**
 * Like DISCARD_STDOUT, but first refuses (exit 75) when the target holds any of
 * the addresses given before "--": a router that translates them is the master,
 * and a late push from a router that just lost the role must not replace its
 * table (the entries would be missing for the length of the batch, and a reply
 * arriving then meets a local address with no session: a TCP reset). The
 * addresses are positional arguments, never part of the script.
 */
const REFUSE_ON_MASTER = [
  'sh',
  '-c',
  'while [ "$1" != -- ]; do if ip -o addr show to "$1" | grep -q .; then echo "routerd: this router holds $1 (it is master): restore refused" >&2; exit 75; fi; shift; done; shift; exec "$@" >/dev/null',
  'routerd-guard',
];

export interface SshHostOptions {
  /** Addresses whose presence on the target refuses a discarded-stdout command (session restores to a router that became master). */
  readonly refuseIfHolding?: readonly string[];
  /** argv[0] replacements, e.g. conntrack → [sudo, conntrack]. */
  readonly commandMap?: Readonly<Record<string, readonly string[]>>;
  /** Commands whose stdout nobody reads: discarded on the target. */
  readonly discardStdout?: (argv: readonly string[]) => boolean;
}

export class SshHost implements Host {
  readonly description: string;

  constructor(
    private readonly local: Host,
    private readonly target: SshTarget,
    private readonly conn: SshConnectionOptions,
    private readonly opts: SshHostOptions = {},
  ) {
    this.description = `ssh ${target.user ? `${target.user}@` : ''}${target.host}:${target.port}`;
  }

  private remote(argv: readonly string[]): string[] {
    const [cmd, ...rest] = argv;
    const mapped = cmd !== undefined ? this.opts.commandMap?.[cmd] : undefined;
    const full = mapped ? [...mapped, ...rest] : [...argv];
    if (!this.opts.discardStdout?.(argv)) return sshArgv(this.target, full, this.conn);
    const guard = (this.opts.refuseIfHolding ?? []).filter((a) => isIP(a) !== 0);
    return sshArgv(this.target, guard.length ? [...REFUSE_ON_MASTER, ...guard, '--', ...full] : [...DISCARD_STDOUT, ...full], this.conn);
  }

  run(argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return this.local.run(this.remote(argv), opts);
  }

  spawn(argv: readonly string[], opts?: SpawnOptions): ChildHandle {
    return this.local.spawn(this.remote(argv), opts);
  }

  readFile(): Promise<string | undefined> {
    return Promise.reject(new Error(`${this.description}: file access is not supported over ssh; use rsync`));
  }

  writeFileAtomic(): Promise<void> {
    return Promise.reject(new Error(`${this.description}: file access is not supported over ssh; use rsync`));
  }

  mkdirp(): Promise<void> {
    return Promise.reject(new Error(`${this.description}: file access is not supported over ssh`));
  }

  remove(): Promise<void> {
    return Promise.reject(new Error(`${this.description}: file access is not supported over ssh`));
  }

  exists(): Promise<boolean> {
    return Promise.reject(new Error(`${this.description}: file access is not supported over ssh`));
  }
}
