// Supervision of a daemon routerd starts (keepalived, dnsmasq, dhcpcd): started
// detached with its output in a log file, so it outlives a routerd restart;
// adopted again from its pid file when routerd comes back; restarted with
// backoff when it exits on its own.
import { Backoff } from '../support/backoff.ts';
import { readFile } from 'node:fs/promises';
import { describeFailure, type Host, type ProcessTable } from '../host/host.ts';

export type { ProcessTable };

export const realProcessTable: ProcessTable = {
  alive(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
  async cmdline(pid) {
    try {
      const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
      return raw.split('\0').filter((s) => s.length > 0);
    } catch {
      return undefined;
    }
  },
  kill(pid, signal) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  },
};

export interface SupervisedSpec {
  readonly name: string;
  readonly argv: readonly string[];
  /** Where the daemon writes its pid (its own option) — used to adopt it. */
  readonly pidFile: string;
  readonly logFile: string;
  /** Does a running process with this command line belong to us (same config file)? */
  readonly owns: (cmdline: readonly string[]) => boolean;
  /** The daemon's own config check on a candidate file (keepalived -t, dnsmasq --test). */
  readonly checkArgv?: (candidatePath: string) => string[];
}

/** The engine's own check refused a rendered config; the running config stays. */
export class ConfigRefusedError extends Error {
  readonly code = 'RD_E_ENGINE_REFUSED';
}

export type EngineState =
  | { readonly state: 'stopped' }
  | { readonly state: 'running'; readonly pid: number; readonly since: string; readonly adopted: boolean }
  | { readonly state: 'failed'; readonly message: string; readonly since: string };

const STOP_GRACE_MS = 5000;
/** Running this long counts as healthy: the next crash restarts after the short backoff. */
const HEALTHY_MS = 60_000;

export class SupervisedProcess {
  private pid: number | undefined;
  private since = new Date().toISOString();
  private adopted = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly backoff = new Backoff();
  private notBefore = 0;
  private lastFailure: string | undefined;
  /** Times it exited on its own and was started again. */
  restarts = 0;

  constructor(
    private readonly host: Host,
    private spec: SupervisedSpec,
    private readonly onExit: (info: ExitInfo) => void,
    procs?: ProcessTable,
  ) {
    // A host that models its processes (FakeHost) answers for them.
    this.procs = procs ?? host.processes ?? realProcessTable;
  }

  private readonly procs: ProcessTable;

  /** Update the argv (takes effect on the next start). */
  respec(spec: SupervisedSpec): void {
    this.spec = spec;
  }

  state(): EngineState {
    if (this.pid !== undefined) return { state: 'running', pid: this.pid, since: this.since, adopted: this.adopted };
    if (this.lastFailure) return { state: 'failed', message: this.lastFailure, since: this.since };
    return { state: 'stopped' };
  }

  get running(): boolean {
    return this.pid !== undefined;
  }

  /**
   * Make sure the daemon runs: keep it, adopt it from its pid file, or start it
   * (not sooner than the backoff allows after a crash). Returns what happened.
   */
  async ensure(): Promise<'running' | 'adopted' | 'started' | 'backoff' | 'failed'> {
    this.stopping = false;
    if (this.pid !== undefined) {
      if (Date.now() - Date.parse(this.since) > HEALTHY_MS) this.backoff.reset();
      return 'running';
    }
    const adoptable = await this.findAdoptable();
    if (adoptable !== undefined) {
      this.watchAdopted(adoptable);
      return 'adopted';
    }
    if (Date.now() < this.notBefore) return 'backoff';
    const child = this.host.spawn(this.spec.argv, { detached: true, logFile: this.spec.logFile });
    const early = await Promise.race([child.exited, new Promise<undefined>((r) => setTimeout(r, 200, undefined))]);
    if (early !== undefined || child.pid === undefined) {
      this.lastFailure = `${this.spec.argv[0]} exited at once (${early?.code === 127 ? 'not installed?' : `code ${early?.code ?? '?'}`}); see ${this.spec.logFile}`;
      this.since = new Date().toISOString();
      this.scheduleBackoff();
      return 'failed';
    }
    this.pid = child.pid;
    this.adopted = false;
    this.since = new Date().toISOString();
    this.lastFailure = undefined;
    void child.exited.then((info) => this.exited(child.pid!, info));
    return 'started';
  }

  /** Whether a daemon of ours is running now (watched, or adoptable from its pid file). */
  async runningOrAdoptable(): Promise<boolean> {
    return this.pid !== undefined || (await this.findAdoptable()) !== undefined;
  }

  /** Adopt the daemon from its pid file if one of ours runs; never starts one. */
  async adopt(): Promise<boolean> {
    if (this.pid !== undefined) return true;
    const pid = await this.findAdoptable();
    if (pid === undefined) return false;
    this.stopping = false;
    this.watchAdopted(pid);
    return true;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.pid !== undefined) this.procs.kill(this.pid, sig);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const pid = this.pid ?? (await this.findAdoptable());
    if (pid === undefined) return;
    this.procs.kill(pid, 'SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    while (this.procs.alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (this.procs.alive(pid)) this.procs.kill(pid, 'SIGKILL');
    this.forget();
  }

  /** Stop watching without stopping the daemon (routerd exits, the daemon stays). */
  detach(): void {
    this.stopping = true;
    this.forget();
  }

  private forget(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    this.pid = undefined;
  }

  private async findAdoptable(): Promise<number | undefined> {
    const text = await this.host.readFile(this.spec.pidFile);
    const pid = text ? Number.parseInt(text.trim(), 10) : NaN;
    if (!Number.isInteger(pid) || pid <= 1 || !this.procs.alive(pid)) return undefined;
    const cmd = await this.procs.cmdline(pid);
    return cmd && this.spec.owns(cmd) ? pid : undefined;
  }

  private watchAdopted(pid: number): void {
    this.pid = pid;
    this.adopted = true;
    this.since = new Date().toISOString();
    this.lastFailure = undefined;
    this.pollTimer = setInterval(() => {
      if (!this.procs.alive(pid)) this.exited(pid, { code: null, signal: null });
    }, 1000);
    this.pollTimer.unref();
  }

  private exited(pid: number, info: { code: number | null; signal: string | null }): void {
    if (this.pid !== pid) return;
    this.forget();
    if (this.stopping) return;
    this.restarts++;
    this.lastFailure = `exited (${info.signal ?? `code ${info.code ?? '?'}`}); restart ${this.restarts}`;
    this.since = new Date().toISOString();
    this.scheduleBackoff();
    this.onExit({ ...info, restarts: this.restarts });
  }

  private scheduleBackoff(): void {
    this.notBefore = Date.now() + this.backoff.fail();
  }

  /** Milliseconds until ensure() may start the daemon again (0: now). */
  retryInMs(): number {
    return Math.max(0, this.notBefore - Date.now());
  }
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: string | null;
  readonly restarts: number;
}

export type RunOutcome = Awaited<ReturnType<SupervisedProcess['ensure']>> | 'restarted';

/** A supervised daemon driven by one rendered config file: what every engine shares. */
export abstract class ConfiguredDaemon {
  protected readonly proc: SupervisedProcess;

  private readonly checkArgv: SupervisedSpec['checkArgv'];

  protected constructor(
    protected readonly host: Host,
    protected readonly confPath: string,
    spec: SupervisedSpec,
    onExit: (info: ExitInfo) => void,
    procs?: ProcessTable,
  ) {
    this.proc = new SupervisedProcess(host, spec, onExit, procs);
    this.checkArgv = spec.checkArgv;
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

  /** Whether the daemon runs now (ours, or left by an earlier routerd and adoptable). */
  runningOrAdoptable(): Promise<boolean> {
    return this.proc.runningOrAdoptable();
  }

  /**
   * Make sure the daemon runs. One that reads its config only at start (dnsmasq,
   * dhcpcd) is restarted when the config changed under it, adopted or not.
   */
  protected async ensureRestartingOnChange(configChanged: boolean): Promise<RunOutcome> {
    const wasRunning = this.proc.running;
    let outcome: RunOutcome = await this.proc.ensure();
    if (configChanged && (wasRunning || outcome === 'adopted')) {
      await this.proc.stop();
      outcome = await this.proc.ensure();
      if (outcome === 'started') outcome = 'restarted';
    }
    return outcome;
  }

  /** Adopt a running daemon of ours (pid file) without starting one; true when one runs. */
  adopt(): Promise<boolean> {
    return this.proc.adopt();
  }

  /** Stop the daemon, or only let go of it (routerd exits and the daemon stays). */
  async stop(keepRunning: boolean): Promise<void> {
    if (keepRunning) this.proc.detach();
    else await this.proc.stop();
  }

  /** Write the config when it differs from the one on disk; true when it changed. */
  async writeConfig(confText: string): Promise<boolean> {
    if ((await this.host.readFile(this.confPath)) === confText) return false;
    await this.check(confText);
    await this.host.writeFileAtomic(this.confPath, confText, 0o644);
    return true;
  }

  /**
   * Let the daemon check the file before it is installed: a file it refuses is
   * never written where it would read it. A checker that is not installed
   * (127) checks nothing; starting the daemon will say so.
   */
  private async check(confText: string): Promise<void> {
    if (!this.checkArgv) return;
    const candidate = `${this.confPath}.candidate`;
    await this.host.writeFileAtomic(candidate, confText, 0o600);
    try {
      const r = await this.host.run(this.checkArgv(candidate), { timeoutMs: 15_000 });
      if (r.code !== 0 && r.code !== 127)
        throw new ConfigRefusedError(`${r.argv[0] ?? 'the engine'} refused the rendered config (${describeFailure(r)}); the running config stays`);
    } finally {
      await this.host.remove(candidate);
    }
  }
}
