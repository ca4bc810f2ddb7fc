// dhcpcd as the prefix-delegation client, supervised, in a private mount
// namespace of its own: dhcpcd keeps `duid` and `<iface>.lease6` in its
// compile-time /var/lib/dhcpcd and its pid file and sockets in /run/dhcpcd, so
// routerd bind-mounts prefixDelegationStateDir(name) over the first and a run
// dir of the resource over the second, for this process only. Why a mount
// namespace rather than copying or symlinking: /var/lib/dhcpcd and its `duid`
// belong to every dhcpcd on the host (a synced DUID placed there becomes theirs
// too), and copying back and forth leaves two truths and a window where they
// differ. The bind mount changes nothing outside this one process.
// With the bind mount, the derived path *is* dhcpcd's state: lease sync copies
// exactly what dhcpcd wrote, and on promotion dhcpcd reads exactly what was synced.
import { join } from 'node:path';
import type { Host } from '../../host/host.ts';
import { ConfiguredDaemon, type ExitInfo, type ProcessTable, type RunOutcome } from '../process.ts';

export const DHCPCD_DBDIR = '/var/lib/dhcpcd';
export const DHCPCD_RUNDIR = '/run/dhcpcd';

/**
 * A fixed script: it binds each (source, target) pair that follows it, then
 * execs the argv after `--`. Paths travel as positional arguments, never
 * inside the script text.
 */
export const BIND_AND_EXEC = 'while [ "$1" != -- ]; do mount --bind -- "$1" "$2" || exit 111; shift 2; done; shift; exec "$@"';

export interface BindMount {
  readonly source: string;
  readonly target: string;
}

/** argv that runs `argv` in a new private mount namespace with these bind mounts. */
export function privateMountsArgv(binds: readonly BindMount[], argv: readonly string[]): string[] {
  if (argv.length === 0) throw new Error('privateMountsArgv: empty command');
  for (const b of binds) if (b.source === '--' || b.target === '--') throw new Error('privateMountsArgv: "--" is not a path');
  return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', BIND_AND_EXEC, 'routerd-mounts', ...binds.flatMap((b) => [b.source, b.target]), '--', ...argv];
}

export interface DhcpcdFiles {
  readonly conf: string;
  /** Bound over /var/lib/dhcpcd: duid and <iface>.lease6. */
  readonly stateDir: string;
  /** Bound over /run/dhcpcd: pid file and control sockets. */
  readonly runDir: string;
  readonly logFile: string;
  readonly ifname: string;
}

export function dhcpcdArgv(f: DhcpcdFiles): string[] {
  return privateMountsArgv(
    [
      { source: f.stateDir, target: DHCPCD_DBDIR },
      { source: f.runDir, target: DHCPCD_RUNDIR },
    ],
    ['dhcpcd', '--nobackground', '--config', f.conf, f.ifname],
  );
}

/** Where dhcpcd (single interface, as routerd runs it) writes its pid, seen from outside its namespace. */
export function dhcpcdPidFile(f: Pick<DhcpcdFiles, 'runDir' | 'ifname'>): string {
  return join(f.runDir, `${f.ifname}.pid`);
}

export function lease6Path(f: Pick<DhcpcdFiles, 'stateDir' | 'ifname'>): string {
  return join(f.stateDir, `${f.ifname}.lease6`);
}

export class DhcpcdEngine extends ConfiguredDaemon {

  constructor(
    host: Host,
    readonly files: DhcpcdFiles,
    onExit: (info: ExitInfo) => void,
    procs?: ProcessTable,
  ) {
    super(
      host,
      files.conf,
      {
        name: 'dhcpcd',
        argv: dhcpcdArgv(files),
        pidFile: dhcpcdPidFile(files),
        logFile: files.logFile,
        // dhcpcd rewrites its process title ("dhcpcd: wan0 [ip6]"); the pid file
        // lives in this resource's own run dir, so name and interface suffice.
        owns: (cmd) => cmd.length > 0 && /(^|\/)dhcpcd(:|$)/.test(cmd[0]!) && cmd.join(' ').includes(files.ifname),
      },
      onExit,
      procs,
    );
  }

  async run(configChanged: boolean): Promise<RunOutcome> {
    for (const d of [this.files.stateDir, this.files.runDir, DHCPCD_DBDIR, DHCPCD_RUNDIR]) await this.host.mkdirp(d, 0o755);
    return this.ensureRestartingOnChange(configChanged);
  }
  // stop(): SIGTERM, so dhcpcd exits without a Release and the delegation stays valid upstream for the peer to rebind.
}
