// rsync over ssh for lease files: routerd's ssh options (merged as for ssh),
// --timeout=60 unless target.options sets one, and the file replaced on the
// target by rename (rsync's temp file + --delay-updates), so a standby never
// reads half a lease file.
import { shellQuote, sshOptionsFor, type SshConnectionOptions, type SshTarget } from './ssh.ts';

export const RSYNC_DEFAULT_TIMEOUT = '--timeout=60';

export interface RsyncTarget extends SshTarget {
  /** Extra rsync options from target.options. */
  readonly options: readonly string[];
}

/** rsync parses -e itself (whitespace-split, quotes honoured): quote each ssh argument. */
export function rsyncRsh(target: SshTarget, conn: SshConnectionOptions): string {
  return ['ssh', ...sshOptionsFor(target, conn)].map(shellQuote).join(' ');
}

/**
 * Copy `source` to the same path on the target. A trailing slash on a directory
 * copies its contents (rsync's rule), so both sides hold the same tree.
 */
export function rsyncArgv(target: RsyncTarget, source: string, dest: string, conn: SshConnectionOptions = {}): string[] {
  const hasTimeout = target.options.some((o) => o.startsWith('--timeout'));
  const remote = `${target.user ? `${target.user}@` : ''}${target.host.includes(':') ? `[${target.host}]` : target.host}:${dest}`;
  return [
    'rsync',
    '--archive',
    '--delay-updates',
    // Paths travel inside the rsync protocol, never through the remote shell.
    '--protect-args',
    '--mkpath',
    '--stats',
    ...(hasTimeout ? [] : [RSYNC_DEFAULT_TIMEOUT]),
    ...target.options,
    '-e',
    rsyncRsh(target, conn),
    source,
    remote,
  ];
}

/**
 * Copy the same path from the target to this node (a returning router taking
 * the master's lease file). --delay-updates renames into place at the end.
 */
export function rsyncPullArgv(target: RsyncTarget, path: string, conn: SshConnectionOptions = {}): string[] {
  const push = rsyncArgv(target, path, path, conn);
  const remote = push.pop()!;
  const local = push.pop()!;
  return [...push, remote, local];
}
