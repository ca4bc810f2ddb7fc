// ssh argv for pushing to a standby: the documented defaults merged key by key
// with target.sshOptions, host-key checking left on, one persistent connection
// per target (ControlMaster in the run dir), and the remote command quoted once,
// here, from an argv array. No data ever goes into a command string.
import { join } from 'node:path';
import { parseSshOptions, type SshOption } from '../api/ssh.ts';

/** routerd's defaults; any of them is replaced by a target option with the same key. */
export const SSH_DEFAULTS: readonly string[] = ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10'];

export interface SshTarget {
  readonly host: string;
  readonly port: number;
  readonly user?: string | undefined;
  readonly sshOptions: readonly string[];
}

export interface SshConnectionOptions {
  /** Directory for ControlMaster sockets (the run dir's ssh/); omit to open a connection per command. */
  readonly controlDir?: string;
  /** How long an idle master connection stays up. */
  readonly persistSeconds?: number;
}

/** Quote one argument for the remote POSIX shell that sshd runs the command with. */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The single remote command string ssh sends: every argv element quoted. */
export function remoteCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('empty remote command');
  return argv.map(shellQuote).join(' ');
}

/** Defaults first, then the target's options; a target `-o Key=...` replaces the default with the same key. */
export function mergeSshOptions(defaults: readonly string[], overrides: readonly string[]): string[] {
  const d = parseSshOptions(defaults);
  const o = parseSshOptions(overrides);
  if (d.error) throw new Error(`ssh defaults: ${d.error}`);
  if (o.error) throw new Error(`sshOptions: ${o.error}`);
  const overridden = new Set(o.options.filter((x) => x.key !== '-i').map((x) => x.key));
  const keep = (x: SshOption) => !overridden.has(x.key) || x.key === '-i';
  return [...d.options.filter(keep), ...o.options].flatMap((x) => x.tokens);
}

function connectionDefaults(c: SshConnectionOptions): string[] {
  if (!c.controlDir) return [];
  return [
    '-o', 'ControlMaster=auto',
    // %C: a hash of local host, remote host, port and user — short and unique.
    '-o', `ControlPath=${join(c.controlDir, '%C')}`,
    '-o', `ControlPersist=${c.persistSeconds ?? 60}`,
    '-o', 'ServerAliveInterval=5',
    '-o', 'ServerAliveCountMax=3',
  ];
}

/** ssh options (no host, no command) for a target. */
export function sshOptionsFor(target: SshTarget, conn: SshConnectionOptions = {}): string[] {
  return [...mergeSshOptions([...SSH_DEFAULTS, ...connectionDefaults(conn)], target.sshOptions), '-p', String(target.port), ...(target.user ? ['-l', target.user] : [])];
}

/** Full argv: ssh [options] host -- 'quoted remote command'. */
export function sshArgv(target: SshTarget, remote: readonly string[], conn: SshConnectionOptions = {}): string[] {
  return ['ssh', ...sshOptionsFor(target, conn), target.host, '--', remoteCommand(remote)];
}

/** argv that closes the persistent master connection for a target. */
export function sshExitMasterArgv(target: SshTarget, conn: SshConnectionOptions): string[] {
  return ['ssh', ...sshOptionsFor(target, conn), '-O', 'exit', target.host];
}
