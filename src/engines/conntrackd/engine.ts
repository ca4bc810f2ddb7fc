// conntrackd as a supervised daemon, like keepalived: its config, lock file,
// control socket, log and pid file in the run dir (one set per
// NAT44SessionSync), started detached in the foreground so it outlives a
// routerd restart and is adopted again from the pid file. conntrackd writes no
// pid file of its own, so routerd writes the PID of the child it started.
import { join } from 'node:path';
import type { NodePaths } from '../../api/paths.ts';
import type { Host, RunResult } from '../../host/host.ts';
import { ConfiguredDaemon, realProcessTable, type ExitInfo, type ProcessTable, type RunOutcome } from '../process.ts';
import type { ConntrackdFiles } from './render.ts';
import { parseConntrackdRuntime, parseConntrackdStats, type ConntrackdRuntime, type ConntrackdStats } from './stats.ts';

export interface ConntrackdPaths extends ConntrackdFiles {
  readonly dir: string;
  readonly conf: string;
  readonly pidFile: string;
}

/** Derived from the resource name, the same on both routers. */
export function conntrackdPaths(p: NodePaths, name: string): ConntrackdPaths {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) throw new TypeError(`invalid resource name for conntrackd paths: ${JSON.stringify(name)}`);
  const dir = join(p.runDir, 'conntrackd');
  return {
    dir,
    conf: join(dir, `${name}.conf`),
    lockFile: join(dir, `${name}.lock`),
    socket: join(dir, `${name}.ctl`),
    logFile: join(dir, `${name}.log`),
    pidFile: join(dir, `${name}.pid`),
  };
}

export type VrrpRole = 'master' | 'backup' | 'fault';

/**
 * The primary-backup order (conntrack-tools' primary-backup.sh) without its
 * flush on master: commit the external cache (nothing with the external cache
 * disabled), resync the internal cache from the kernel, send it all to the
 * peer; backup: forget the internal cache (on a backup the kernel holds the
 * peer's entries), ask the peer for a resync; fault: shorten the kernel timers
 * (PurgeTimeout) of stale entries.
 *
 * No `-f` on master: after a flush `-R` re-creates every cache object as new,
 * and `-B` then sends every entry as a NEW message; conntrackd writes a NEW
 * for an entry the peer's kernel already holds by deleting and re-creating it
 * (external_inject.c). Without the flush, `-R` updates the objects the cache
 * already holds and `-B` sends those as updates, applied in place. A former
 * backup's cache is empty anyway (`-f internal`), so what it sends is the same.
 * The deleted entries also wait on the peer's dying list until their destroy
 * event reaches its conntrackd (NetlinkEventsReliable), counted by
 * nf_conntrack_count meanwhile: docs/kernel-facts.md.
 */
export const TRANSITION_COMMANDS: Readonly<Record<VrrpRole, readonly (readonly string[])[]>> = {
  master: [['-c'], ['-R'], ['-B']],
  backup: [['-f', 'internal'], ['-n']],
  fault: [['-t']],
};

const CTL_TIMEOUT_MS = 30_000;

export class ConntrackdEngine extends ConfiguredDaemon {
  readonly paths: ConntrackdPaths;
  private readonly procs: ProcessTable;

  constructor(
    host: Host,
    paths: ConntrackdPaths,
    onExit: (info: ExitInfo) => void,
    procs?: ProcessTable,
  ) {
    const confArg = paths.conf;
    super(
      host,
      paths.conf,
      {
        name: 'conntrackd',
        argv: ['conntrackd', '-C', paths.conf],
        pidFile: paths.pidFile,
        logFile: paths.logFile,
        owns: (cmd) => cmd.some((a) => a === 'conntrackd' || a.endsWith('/conntrackd')) && cmd.includes(confArg) && !cmd.includes('-s'),
      },
      onExit,
      procs,
    );
    this.procs = procs ?? host.processes ?? realProcessTable;
    this.paths = paths;
  }

  get pid(): number | undefined {
    const st = this.proc.state();
    return st.state === 'running' ? st.pid : undefined;
  }

  /**
   * Write the config, make sure conntrackd runs on it: adopt it, start it, or
   * restart it when the config changed (conntrackd has no reload). A lock file
   * left by a conntrackd that died (SIGKILL leaves it) would stop the next start.
   */
  async run(confText: string): Promise<RunOutcome> {
    await this.host.mkdirp(this.paths.dir, 0o755);
    const changed = await this.writeConfig(confText);
    if (!this.proc.running && !(await this.adoptable())) {
      await this.host.remove(this.paths.lockFile);
      await this.host.remove(this.paths.socket);
    }
    const outcome = await this.ensureRestartingOnChangeCleaning(changed);
    const pid = this.pid;
    if ((outcome === 'started' || outcome === 'restarted') && pid !== undefined) await this.host.writeFileAtomic(this.paths.pidFile, `${pid}\n`, 0o644);
    return outcome;
  }

  private async ensureRestartingOnChangeCleaning(changed: boolean): Promise<RunOutcome> {
    const wasRunning = this.proc.running;
    let outcome: RunOutcome = await this.proc.ensure();
    if (changed && (wasRunning || outcome === 'adopted')) {
      await this.proc.stop();
      await this.host.remove(this.paths.lockFile);
      await this.host.remove(this.paths.socket);
      outcome = await this.proc.ensure();
      if (outcome === 'started') outcome = 'restarted';
    }
    return outcome;
  }

  private async adoptable(): Promise<boolean> {
    const text = await this.host.readFile(this.paths.pidFile);
    const pid = text ? Number.parseInt(text.trim(), 10) : NaN;
    if (!Number.isInteger(pid) || pid <= 1 || !this.procs.alive(pid)) return false;
    const cmd = await this.procs.cmdline(pid);
    return cmd !== undefined && cmd.includes(this.paths.conf);
  }

  /** One control command over conntrackd's unix socket (`conntrackd -C CONF ARGS`). */
  ctl(args: readonly string[], timeoutMs = CTL_TIMEOUT_MS): Promise<RunResult> {
    return this.host.run(['conntrackd', '-C', this.paths.conf, ...args], { timeoutMs });
  }

  async stats(): Promise<{ stats?: ConntrackdStats; runtime?: ConntrackdRuntime; error?: string }> {
    const [general, runtime] = await Promise.all([this.ctl(['-s'], 10_000), this.ctl(['-s', 'runtime'], 10_000)]);
    if (general.code !== 0) return { error: `conntrackd -s: ${general.stderr.trim() || `exit ${general.code}`}` };
    const stats = parseConntrackdStats(general.stdout);
    const rt = runtime.code === 0 ? parseConntrackdRuntime(runtime.stdout) : undefined;
    if (!stats) return { error: 'conntrackd -s printed something this routerd cannot read' };
    return { stats, ...(rt ? { runtime: rt } : {}) };
  }
}
