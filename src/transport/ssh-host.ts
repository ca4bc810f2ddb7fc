// A Host whose commands run on a standby over ssh, so kernel helpers written
// for a Host (conntrack -R batches, counts, dumps) work unchanged on a target.
// argv[0] can be mapped (conntrack → the target's restoreCommand, e.g.
// [sudo, conntrack]); bulk stdin is streamed through ssh, never put in argv.
import type { ChildHandle, Host, RunOptions, RunResult, SpawnOptions } from '../host/host.ts';
import { sshArgv, type SshConnectionOptions, type SshTarget } from './ssh.ts';

/** ssh exits 255 when it could not connect or authenticate (or the connection broke). */
export const SSH_CONNECT_FAILURE = 255;

export class SshHost implements Host {
  readonly description: string;

  constructor(
    private readonly local: Host,
    private readonly target: SshTarget,
    private readonly conn: SshConnectionOptions,
    private readonly commandMap: Readonly<Record<string, readonly string[]>> = {},
  ) {
    this.description = `ssh ${target.user ? `${target.user}@` : ''}${target.host}:${target.port}`;
  }

  private remote(argv: readonly string[]): string[] {
    const [cmd, ...rest] = argv;
    const mapped = cmd !== undefined ? this.commandMap[cmd] : undefined;
    return sshArgv(this.target, mapped ? [...mapped, ...rest] : [...argv], this.conn);
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
