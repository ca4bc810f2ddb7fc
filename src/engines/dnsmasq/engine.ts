// One supervised dnsmasq per DHCP server resource: its config and pid file in
// the run dir, its lease file in the state dir. dnsmasq reads config and lease
// file only at start (SIGHUP re-reads neither), so a changed config means a
// restart, and a standby's dnsmasq is started only once the synced lease file
// is in place (the controller starts it on promotion).
import { dirname } from 'node:path';
import type { Host } from '../../host/host.ts';
import { SupervisedProcess, type EngineState, type ProcessTable } from '../process.ts';

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

export type DnsmasqOutcome = Awaited<ReturnType<SupervisedProcess['ensure']>> | 'restarted';

export class DnsmasqEngine {
  private readonly proc: SupervisedProcess;

  constructor(
    private readonly host: Host,
    readonly files: DnsmasqFilesOnHost,
    onExit: (info: { code: number | null; signal: string | null; restarts: number }) => void,
    procs?: ProcessTable,
  ) {
    const confArg = `--conf-file=${files.conf}`;
    this.proc = new SupervisedProcess(
      host,
      {
        name: 'dnsmasq',
        argv: dnsmasqArgv(files.conf),
        pidFile: files.pidFile,
        logFile: files.logFile,
        owns: (cmd) => cmd.some((a) => a.endsWith('dnsmasq')) && cmd.includes(confArg),
      },
      onExit,
      procs,
    );
  }

  state(): EngineState {
    return this.proc.state();
  }

  get restarts(): number {
    return this.proc.restarts;
  }

  retryInMs(): number {
    return this.proc.retryInMs();
  }

  /** Write the config if it changed (restarting a running dnsmasq on it). Does not start dnsmasq. */
  async writeConfig(confText: string): Promise<boolean> {
    const current = await this.host.readFile(this.files.conf);
    if (current === confText) return false;
    await this.host.writeFileAtomic(this.files.conf, confText, 0o644);
    return true;
  }

  /** Make sure dnsmasq runs on the current config; restart it when the config changed under it. */
  async run(configChanged: boolean): Promise<DnsmasqOutcome> {
    await this.host.mkdirp(dirname(this.files.leaseFile), 0o755);
    await this.host.mkdirp(dirname(this.files.pidFile), 0o755);
    const wasRunning = this.proc.running;
    let outcome: DnsmasqOutcome = await this.proc.ensure();
    if (configChanged && (wasRunning || outcome === 'adopted')) {
      await this.proc.stop();
      outcome = await this.proc.ensure();
      if (outcome === 'started') outcome = 'restarted';
    }
    return outcome;
  }

  /** Stop dnsmasq (demotion, resource removed), or just let go of it (routerd exits). */
  async stop(keepRunning: boolean): Promise<void> {
    if (keepRunning) this.proc.detach();
    else await this.proc.stop();
  }
}
