// SSH between every pair of routers of the N-router lab, as sshd.ts does for
// the pair: each router its own sshd on its LAN address and its own client
// key; every router trusts every other one's key and knows its host key.
import type { ChildHandle } from '../host/host.ts';
import { runChecked } from '../host/host.ts';
import type { MultiLab, MultiRouter } from './multi.ts';
import { keygen, SSHD_DIR, sshdConfig } from './sshd.ts';

export interface MultiSsh {
  readonly sshd: Map<MultiRouter, ChildHandle>;
  /** Start sshd again on a router (after it was killed with the router). */
  restart(r: MultiRouter): Promise<void>;
  stop(): Promise<void>;
}

export async function enableMultiSsh(lab: MultiLab, routers: readonly MultiRouter[] = lab.routers): Promise<MultiSsh> {
  const keys = new Map<MultiRouter, { host: string; client: string }>();
  for (const r of routers) {
    const node = lab.asLabNode(r);
    await node.host.mkdirp(SSHD_DIR, 0o700);
    await runChecked(node.host, ['chmod', '700', '/root/.ssh']);
    keys.set(r, { host: await keygen(node, `${SSHD_DIR}/host_ed25519`), client: await keygen(node, '/root/.ssh/id_ed25519') });
    await node.host.writeFileAtomic(`${SSHD_DIR}/sshd_config`, sshdConfig(node.addresses.lan4!), 0o600);
  }
  for (const r of routers) {
    const others = routers.filter((o) => o !== r);
    const node = lab.node(r);
    await node.host.writeFileAtomic('/root/.ssh/authorized_keys', others.map((o) => `${keys.get(o)!.client}\n`).join(''), 0o600);
    await node.host.writeFileAtomic('/root/.ssh/known_hosts', others.map((o) => `${lab.node(o).addresses.lan4} ${keys.get(o)!.host.split(' ').slice(0, 2).join(' ')}\n`).join(''), 0o644);
  }
  const sshd = new Map<MultiRouter, ChildHandle>();
  const start = (r: MultiRouter) => sshd.set(r, lab.node(r).host.spawn(['/usr/sbin/sshd', '-D', '-e', '-f', `${SSHD_DIR}/sshd_config`]));
  for (const r of routers) start(r);
  for (const r of routers)
    for (const o of routers.filter((x) => x !== r)) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const res = await lab.node(r).host.run(['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=2', '-l', 'root', lab.node(o).addresses.lan4!, 'true'], { timeoutMs: 5000 });
        if (res.code === 0) break;
        if (Date.now() > deadline) throw new Error(`ssh ${r} → ${o} does not work: ${res.stderr.trim()}`);
        await new Promise((x) => setTimeout(x, 100));
      }
    }
  return {
    sshd,
    async restart(r) {
      start(r);
      await new Promise((x) => setTimeout(x, 300));
    },
    async stop() {
      for (const c of sshd.values()) c.kill('SIGTERM');
      await Promise.all([...sshd.values()].map((c) => c.exited));
    },
  };
}
