// ssh argv for pushing to a standby: the documented defaults merged key by key
// with target.sshOptions, host-key checking left on, one persistent connection
// per target (ControlMaster in the run dir), and the remote command quoted once,
// here, from an argv array. No data ever goes into a command string.
import { join } from 'node:path';
import { parseSshOptions, SAFE_PATH, type SshOption } from '../api/ssh.ts';

/** routerd's defaults; any of them is replaced by a target option with the same key. */
export const SSH_DEFAULTS: readonly SshOption[] = [
  { key: 'BatchMode', value: 'yes' },
  { key: 'ConnectTimeout', value: '10' },
];

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

/**
 * Defaults first, then the target's options (already validated by the config
 * schema; checked again here so no unchecked value reaches ssh). A target key
 * replaces the default with the same key; IdentityFile accumulates.
 */
export function mergeSshOptions(defaults: readonly SshOption[], overrides: readonly string[]): SshOption[] {
  const o = parseSshOptions(overrides);
  if (o.problems.length > 0) throw new Error(`sshOptions: ${o.problems.map((p) => p.message).join('; ')}`);
  const overridden = new Set(o.options.filter((x) => x.key !== 'IdentityFile').map((x) => x.key));
  return [...defaults.filter((x) => !overridden.has(x.key)), ...o.options];
}

function connectionDefaults(c: SshConnectionOptions): SshOption[] {
  if (!c.controlDir) return [];
  return [
    { key: 'ControlMaster', value: 'auto' },
    // %C: a hash of local host, remote host, port and user — short and unique.
    { key: 'ControlPath', value: join(c.controlDir, '%C') },
    { key: 'ControlPersist', value: String(c.persistSeconds ?? 60) },
    { key: 'ServerAliveInterval', value: '5' },
    { key: 'ServerAliveCountMax', value: '3' },
  ];
}

/** Every option for a target, in the order ssh sees them (ssh keeps the first value of a key). */
export function sshOptionList(target: SshTarget, conn: SshConnectionOptions = {}): SshOption[] {
  if (conn.controlDir !== undefined && !SAFE_PATH.test(conn.controlDir)) throw new Error(`ssh control directory ${JSON.stringify(conn.controlDir)} is not a safe absolute path`);
  return [
    ...mergeSshOptions([...SSH_DEFAULTS, ...connectionDefaults(conn)], target.sshOptions),
    { key: 'Port', value: String(target.port) },
    ...(target.user ? [{ key: 'User', value: target.user }] : []),
  ];
}

/** ssh options (no host, no command) for a target. */
export function sshOptionsFor(target: SshTarget, conn: SshConnectionOptions = {}): string[] {
  return sshOptionList(target, conn).flatMap((o) => {
    if (o.key === 'Port') return ['-p', o.value];
    if (o.key === 'User') return ['-l', o.value];
    return ['-o', `${o.key}=${o.value}`];
  });
}

/**
 * The same options as an ssh_config file (`Key value` lines), for programs that
 * take an ssh command line and split it by their own rules (rsync -e): they get
 * the constant `ssh -F FILE` and the values stay out of any string they parse.
 * Every value passed the allowlist (no newline, quote, `#` or `%`), so the file
 * needs no quoting; each line is checked once more before it is written.
 */
export function sshConfigText(target: SshTarget, conn: SshConnectionOptions = {}): string {
  const lines = sshOptionList(target, conn).map((o) => `${o.key} ${o.value}`);
  for (const l of lines) if (!/^[A-Za-z]+ [\x21-\x7e]+( [\x21-\x7e]+)?$/.test(l)) throw new Error(`refusing to write ssh config line ${JSON.stringify(l)}`);
  return `# Written by routerd for ${target.host}; regenerated on every push.\n${lines.join('\n')}\n`;
}

/** Full argv: ssh [options] host -- 'quoted remote command'. */
export function sshArgv(target: SshTarget, remote: readonly string[], conn: SshConnectionOptions = {}): string[] {
  return ['ssh', ...sshOptionsFor(target, conn), target.host, '--', remoteCommand(remote)];
}

/** argv that closes the persistent master connection for a target. */
export function sshExitMasterArgv(target: SshTarget, conn: SshConnectionOptions): string[] {
  return ['ssh', ...sshOptionsFor(target, conn), '-O', 'exit', target.host];
}
