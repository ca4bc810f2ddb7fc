// rsync over ssh for lease files: routerd's ssh options (merged as for ssh),
// --timeout=60 unless target.options sets one, and the file replaced on the
// target by rename (rsync's temp file + --delay-updates), so a standby never
// reads half a lease file.
//
// rsync splits its -e string by its own rules (whitespace, its own quoting), so
// no config value ever goes into it: -e is always `ssh -F FILE`, FILE being an
// ssh_config that routerd generates from allowlisted `Key value` lines
// (sshConfigText) in the run dir.
import { join } from 'node:path';
import { SAFE_PATH } from '../api/ssh.ts';
import { shortDigest } from '../support/digest.ts';
import { sshConfigText, type SshConnectionOptions, type SshTarget } from './ssh.ts';

export const RSYNC_DEFAULT_TIMEOUT = '--timeout=60';

export interface RsyncTarget extends SshTarget {
  /** Extra rsync options from target.options. */
  readonly options: readonly string[];
}

/** The generated ssh_config for a target: its path (content-addressed in `dir`) and text. */
export function rsyncSshConfig(target: SshTarget, conn: SshConnectionOptions, dir: string): { path: string; text: string } {
  const text = sshConfigText(target, conn);
  return { path: join(dir, `ssh-config-${shortDigest(text)}`), text };
}

/** rsync's -e: a constant command and one path, both free of anything rsync would split or unquote. */
export function rsyncRsh(sshConfigPath: string): string {
  if (!SAFE_PATH.test(sshConfigPath)) throw new Error(`ssh config path ${JSON.stringify(sshConfigPath)} is not a safe absolute path`);
  return `ssh -F ${sshConfigPath}`;
}

/**
 * Copy `source` to the same path on the target. A trailing slash on a directory
 * copies its contents (rsync's rule), so both sides hold the same tree.
 * `sshConfigPath` must already hold rsyncSshConfig(target, ...).text.
 */
export function rsyncArgv(target: RsyncTarget, source: string, dest: string, sshConfigPath: string): string[] {
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
    rsyncRsh(sshConfigPath),
    // Options end here: a source or destination can never be read as one.
    '--',
    source,
    remote,
  ];
}

/**
 * Copy the same path from the target to this node (a returning router taking
 * the master's lease file). --delay-updates renames into place at the end.
 */
export function rsyncPullArgv(target: RsyncTarget, path: string, sshConfigPath: string): string[] {
  const push = rsyncArgv(target, path, path, sshConfigPath);
  const remote = push.pop()!;
  const local = push.pop()!;
  return [...push, remote, local];
}
