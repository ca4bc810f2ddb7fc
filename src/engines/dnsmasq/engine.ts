// One supervised dnsmasq per DHCP server resource: its config and pid file in
// the run dir, its lease file in the state dir. dnsmasq reads config and lease
// file only at start (SIGHUP re-reads neither), so a changed config means a
// restart, and a standby's dnsmasq is started only once the synced lease file
// is in place (the controller starts it on promotion).
import { dirname } from 'node:path';
import type { Host } from '../../host/host.ts';
import { ConfiguredDaemon, type ExitInfo, type ProcessTable, type RunOutcome } from '../process.ts';

export interface DnsmasqFilesOnHost {
  readonly conf: string;
  readonly pidFile: string;
  readonly leaseFile: string;
  readonly logFile: string;
}

/** Foreground (so routerd supervises it), logging to stderr (the log file), one config. */
export function dnsmasqArgv(conf: string): string[] {
  return ['dnsmasq', '--keep-in-foreground', '--log-facility=-', `--conf-file=${conf}`];
}

export type DnsmasqOutcome = RunOutcome;

export class DnsmasqEngine extends ConfiguredDaemon {

  constructor(
    host: Host,
    readonly files: DnsmasqFilesOnHost,
    onExit: (info: ExitInfo) => void,
    procs?: ProcessTable,
  ) {
    super(
      host,
      files.conf,
      {
        name: 'dnsmasq',
        argv: dnsmasqArgv(files.conf),
        pidFile: files.pidFile,
        logFile: files.logFile,
        owns: (cmd) => cmd.some((a) => a.endsWith('dnsmasq')) && cmd.includes(`--conf-file=${files.conf}`),
        checkArgv: (candidate) => ['dnsmasq', '--test', `--conf-file=${candidate}`],
      },
      onExit,
      procs,
    );
  }

  /** Make sure dnsmasq runs on the current config; restart it when the config changed under it. */
  async run(configChanged: boolean): Promise<DnsmasqOutcome> {
    await this.host.mkdirp(dirname(this.files.leaseFile), 0o755);
    await this.host.mkdirp(dirname(this.files.pidFile), 0o755);
    return this.ensureRestartingOnChange(configChanged);
  }
}
