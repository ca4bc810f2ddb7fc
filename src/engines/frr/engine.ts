// FRR (zebra, bfdd, bgpd) as supervised children of routerd, one instance per
// node (`-N routerd`), started in the node's network namespace like any other
// command of the Host. Each daemon runs in the foreground (no -d) so the
// supervisor sees it exit; each writes its own pid file, so a restarted routerd
// adopts them. The config goes in with `vtysh -b` after a start; ownership
// changes go in as `network` statements through vtysh, never by a restart,
// which would withdraw every route upstream.
import type { Host } from '../../host/host.ts';
import { SupervisedProcess, type EngineState, type ExitInfo, type ProcessTable } from '../process.ts';
import { FRR_INSTANCE, FRR_SBIN, frrPaths } from './paths.ts';
import { networkChangeCommands } from './render.ts';

export const FRR_DAEMONS = ['zebra', 'bfdd', 'bgpd'] as const;
export type FrrDaemon = (typeof FRR_DAEMONS)[number];

const VTYSH_CONF = 'service integrated-vtysh-config\n';

export interface BfdPeerState {
  readonly peer: string;
  readonly status: string;
}

export interface BgpPeerState {
  readonly address: string;
  readonly state: string;
  readonly prefixesSent?: number;
}

export class FrrEngine {
  private readonly procs: Record<FrrDaemon, SupervisedProcess>;

  constructor(
    private readonly host: Host,
    logDir: string,
    onExit: (daemon: FrrDaemon, info: ExitInfo) => void,
    procs?: ProcessTable,
  ) {
    const spec = (d: FrrDaemon) => ({
      name: d,
      // -P 0: no TCP vty; -u/-g default to frr.
      argv: [`${FRR_SBIN}/${d}`, '-N', FRR_INSTANCE, '-P', '0'],
      pidFile: frrPaths.pidFile(d),
      logFile: `${logDir}/${d}.log`,
      owns: (cmd: readonly string[]) => cmd[0] === `${FRR_SBIN}/${d}` && cmd.includes('-N') && cmd[cmd.indexOf('-N') + 1] === FRR_INSTANCE,
    });
    this.procs = {
      zebra: new SupervisedProcess(host, spec('zebra'), (i) => onExit('zebra', i), procs),
      bfdd: new SupervisedProcess(host, spec('bfdd'), (i) => onExit('bfdd', i), procs),
      bgpd: new SupervisedProcess(host, spec('bgpd'), (i) => onExit('bgpd', i), procs),
    };
  }

  state(): Record<FrrDaemon, EngineState> {
    return { zebra: this.procs.zebra.state(), bfdd: this.procs.bfdd.state(), bgpd: this.procs.bgpd.state() };
  }

  get restarts(): number {
    return FRR_DAEMONS.reduce((n, d) => n + this.procs[d].restarts, 0);
  }

  get running(): boolean {
    return FRR_DAEMONS.every((d) => this.procs[d].running);
  }

  /**
   * Write the config and make sure the three daemons run. A daemon that was
   * (re)started gets the whole config again (`vtysh -b`); otherwise only the
   * `network` lines that differ from the last applied ones are changed.
   */
  async apply(confText: string, asn: number, networks: readonly string[], applied: readonly string[] | undefined): Promise<'started' | 'reloaded' | 'changed' | 'unchanged' | 'starting'> {
    // Once per engine: a pass over the same config issues no command.
    if (!this.prepared) await this.prepareDirs();
    this.prepared = true;
    const old = await this.host.readFile(frrPaths.conf);
    if (old !== confText) await this.writeOwned(frrPaths.conf, confText);
    let started = false;
    for (const d of FRR_DAEMONS) {
      const outcome = await this.procs[d].ensure();
      if (outcome === 'started') started = true;
      if (outcome === 'backoff' || outcome === 'failed') return 'starting';
      // bfdd and bgpd register with zebra: give it its socket first.
      if (d === 'zebra' && outcome === 'started') await this.waitFor(frrPaths.zservSocket, 5000);
    }
    if (started || applied === undefined) {
      await this.vtysh(['-b'], 30_000);
      return started ? 'started' : 'reloaded';
    }
    const outsideNetworks = (t: string | undefined) => (t ?? '').split('\n').filter((l) => !l.trim().startsWith('network ')).join('\n');
    if (old !== undefined && outsideNetworks(old) !== outsideNetworks(confText)) {
      if (onlyAdds(outsideNetworks(old), outsideNetworks(confText))) {
        // Only new statements (a member joined: its BFD peer): vtysh -b adds them to the running daemons, no session drops.
        await this.vtysh(['-b'], 30_000);
        return 'reloaded';
      }
      // Something was removed or changed: vtysh -b only adds, so restart bgpd and bfdd with the new file.
      await this.procs.bgpd.stop();
      await this.procs.bfdd.stop();
      await this.procs.bfdd.ensure();
      await this.procs.bgpd.ensure();
      await this.vtysh(['-b'], 30_000);
      return 'reloaded';
    }
    const cmds = networkChangeCommands(asn, applied, networks);
    if (cmds.length === 0) return 'unchanged';
    await this.vtysh(cmds.flatMap((c) => ['-c', c]), 10_000);
    return 'changed';
  }

  async bfdPeers(): Promise<BfdPeerState[] | undefined> {
    const r = await this.host.run(['vtysh', '-N', FRR_INSTANCE, '-c', 'show bfd peers json'], { timeoutMs: 5000 });
    if (r.code !== 0) return undefined;
    return parseBfdPeers(r.stdout);
  }

  async bgpPeers(): Promise<BgpPeerState[] | undefined> {
    const r = await this.host.run(['vtysh', '-N', FRR_INSTANCE, '-c', 'show bgp ipv4 unicast summary json'], { timeoutMs: 5000 });
    if (r.code !== 0) return undefined;
    return parseBgpSummary(r.stdout);
  }

  async stop(keepRunning: boolean): Promise<void> {
    for (const d of [...FRR_DAEMONS].reverse()) {
      if (keepRunning) this.procs[d].detach();
      else await this.procs[d].stop();
    }
  }

  private async vtysh(args: readonly string[], timeoutMs: number): Promise<void> {
    const r = await this.host.run(['vtysh', '-N', FRR_INSTANCE, ...args], { timeoutMs });
    if (r.code !== 0) throw new Error(`vtysh ${args.filter((a) => a !== '-c').join('; ')}: exit ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
  }

  private prepared = false;

  /** frr:frr dirs and files: the daemons read their config after dropping to uid frr (frr-facts §1). */
  private async prepareDirs(): Promise<void> {
    for (const d of [frrPaths.runParent, frrPaths.runDir, frrPaths.etcDir]) {
      if (!(await this.host.exists(d))) await this.host.mkdirp(d, 0o755);
      await this.checked(['chown', 'frr:frr', d]);
    }
    if ((await this.host.readFile(frrPaths.vtyshConf)) !== VTYSH_CONF) await this.writeOwned(frrPaths.vtyshConf, VTYSH_CONF);
  }

  private async writeOwned(path: string, text: string): Promise<void> {
    await this.host.writeFileAtomic(path, text, 0o640);
    await this.checked(['chown', 'frr:frr', path]);
  }

  private async checked(argv: readonly string[]): Promise<void> {
    const r = await this.host.run(argv, { timeoutMs: 5000 });
    if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr.trim()}`);
  }

  private async waitFor(path: string, ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!(await this.host.exists(path))) {
      if (Date.now() > until) throw new Error(`zebra did not create ${path} within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Whether `to` only adds whole blocks of statements to `from`: every line of
 * `from` is still there, in the same order.
 */
export function onlyAdds(from: string, to: string): boolean {
  const a = from.split('\n');
  const b = to.split('\n');
  let i = 0;
  for (const line of b) if (i < a.length && line === a[i]) i++;
  return i === a.length;
}

/** `show bfd peers json`: an array of sessions with peer and status. */
export function parseBfdPeers(text: string): BfdPeerState[] | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    if (!Array.isArray(v)) return undefined;
    return v
      .filter((x): x is { peer: string; status: string } => typeof x === 'object' && x !== null && typeof (x as { peer?: unknown }).peer === 'string')
      .map((x) => ({ peer: x.peer, status: String(x.status) }));
  } catch {
    return undefined;
  }
}

/** `show bgp ipv4 unicast summary json`: {peers: {ADDR: {state, pfxSnt}}}. */
export function parseBgpSummary(text: string): BgpPeerState[] | undefined {
  try {
    const v = JSON.parse(text) as { peers?: Record<string, { state?: unknown; pfxSnt?: unknown }> };
    if (typeof v !== 'object' || v === null) return undefined;
    return Object.entries(v.peers ?? {}).map(([address, p]) => ({
      address,
      state: String(p.state ?? 'unknown'),
      ...(typeof p.pfxSnt === 'number' ? { prefixesSent: p.pfxSnt } : {}),
    }));
  } catch {
    return undefined;
  }
}
