// A hardened router pair with live routerd on both, A master and B standing
// by, an echo server behind the WAN and ssh between the routers: where the
// failback and flap tests and the failback bench start from.
import { Reason } from '../controllers/status.ts';
import { hardenRouter } from './harden.ts';
import { LAB_CONFIG_PATH, startRouterd, type RouterdProcess, type StartRouterdOptions } from './routerd.ts';
import { enableLabSsh, type LabSsh } from './sshd.ts';
import type { Lab } from './topology.ts';
import { startTcpEchoServer, type EchoFlows, type EchoServer } from './traffic.ts';

export type PairNode = 'ra' | 'rb';

/** The controllers a failover with NAT and session sync needs. */
export const PAIR_CONTROLLERS = ['interface', 'virtual-address', 'nat44-rule', 'nat44-session-sync'] as const;

export class HardenedPair {
  ssh: LabSsh | undefined;
  server: EchoServer | undefined;
  readonly procs: Record<PairNode, RouterdProcess | undefined> = { ra: undefined, rb: undefined };
  /** Flows the caller started; stopped by close(). */
  readonly flows: EchoFlows[] = [];

  constructor(
    readonly lab: Lab,
    private readonly routerd: StartRouterdOptions,
  ) {}

  /** Start (or restart) routerd on one router. */
  async start(node: PairNode): Promise<RouterdProcess> {
    return (this.procs[node] = await startRouterd(this.lab.nodes[node], this.routerd));
  }

  /**
   * ssh between the routers, each router's config installed and the router
   * hardened (forward drop, invalid drop, strict TCP tracking), the echo
   * server up, routerd started on both; returns once A is master and B a
   * backup that is no longer demoted.
   */
  async up(configs: { readonly a: string; readonly b: string }, echoPort: number): Promise<void> {
    this.ssh = await enableLabSsh(this.lab);
    await this.lab.nodes.ra.host.writeFileAtomic(LAB_CONFIG_PATH, configs.a);
    await this.lab.nodes.rb.host.writeFileAtomic(LAB_CONFIG_PATH, configs.b);
    await hardenRouter(this.lab.nodes.ra);
    await hardenRouter(this.lab.nodes.rb);
    this.server = await startTcpEchoServer(this.lab.nodes.server, echoPort);
    await this.start('ra');
    await this.start('rb');
    await this.procs.ra!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 20_000);
    await this.procs.rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'backup' && r.status.reason !== Reason.Demoted, 20_000);
  }

  /** Stop the flows, both routerd (SIGKILL: engines stay until the lab goes), the server and ssh; destroy the lab. */
  async close(): Promise<void> {
    for (const f of this.flows) await f.stop().catch(() => undefined);
    await Promise.all([this.procs.ra?.stop('SIGKILL').catch(() => undefined), this.procs.rb?.stop('SIGKILL').catch(() => undefined)]);
    await this.server?.stop().catch(() => undefined);
    await this.ssh?.stop().catch(() => undefined);
    await this.lab.destroy();
  }
}
