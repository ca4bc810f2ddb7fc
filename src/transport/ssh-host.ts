// A Host whose commands run on a standby over ssh, so kernel helpers written
// for a Host (conntrack -R batches, counts, dumps) work unchanged on a target.
// argv[0] can be mapped (conntrack → the target's restoreCommand, e.g.
// [sudo, conntrack]); bulk stdin is streamed through ssh, never put in argv.
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

export interface SshHostOptions {
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
    return sshArgv(this.target, this.opts.discardStdout?.(argv) ? [...DISCARD_STDOUT, ...full] : full, this.conn);
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
