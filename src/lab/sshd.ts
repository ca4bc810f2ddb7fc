// SSH between the lab routers, set up the way an operator prepares a pair
// (seed 002 "SSH requirements"): each router runs its own sshd on its LAN
// address, has its own client key, trusts the peer's key in authorized_keys and
// knows the peer's host key in known_hosts. Host-key checking stays on.
import { runChecked } from '../host/host.ts';
import type { ChildHandle } from '../host/host.ts';
import type { Lab, LabNode } from './topology.ts';

export const SSHD_DIR = '/etc/routerd/lab-sshd';

const PLAIN_BASHRC = `${SSHD_DIR}/bashrc`;

export interface LabSshOptions {
  /**
   * sshd runs each command through root's bash, and Debian's bash sources
   * ~/.bashrc when started by sshd. A development machine's /root/.bashrc may do
   * slow things (pyenv init: 150-400 ms per command, measured in bench/) that a
   * router would not, so by default an empty file is bound over it inside each
   * router's own mount namespace. false keeps the machine's file (to measure it).
   */
  readonly plainRootShell?: boolean;
}

export interface LabSsh {
  stop(): Promise<void>;
}

export function sshdConfig(listen: string): string {
  return [
    `ListenAddress ${listen}`,
    'Port 22',
    `HostKey ${SSHD_DIR}/host_ed25519`,
    `PidFile ${SSHD_DIR}/sshd.pid`,
    'AuthorizedKeysFile /root/.ssh/authorized_keys',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'PrintMotd no',
    'MaxStartups 100:30:200',
    'MaxSessions 50',
    'LogLevel ERROR',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

export async function keygen(node: LabNode, path: string): Promise<string> {
  await node.host.remove(path);
  await node.host.remove(`${path}.pub`);
  await runChecked(node.host, ['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `lab-${node.name}`, '-f', path]);
  const pub = await node.host.readFile(`${path}.pub`);
  if (!pub) throw new Error(`ssh-keygen wrote no ${path}.pub on ${node.name}`);
  return pub.trim();
}

/** Bind an empty file over /root/.bashrc in each router's mount namespace; false when there is none to hide. */
export async function plainRootShell(nodes: readonly LabNode[]): Promise<boolean> {
  let done = false;
  for (const n of nodes) {
    if (!(await n.host.exists('/root/.bashrc'))) continue;
    await n.host.mkdirp(SSHD_DIR, 0o700);
    await n.host.writeFileAtomic(PLAIN_BASHRC, '# lab router: nothing to set up for commands run by sshd\n', 0o644);
    await runChecked(n.host, ['mount', '--bind', PLAIN_BASHRC, '/root/.bashrc']);
    done = true;
  }
  return done;
}

export interface SshMesh extends LabSsh {
  /** Start a router's sshd again (after it was killed with the router) and wait until a peer reaches it. */
  restart(node: LabNode): Promise<void>;
}

/** Wait until `from` runs a command on `to` over ssh, host-key checking on; the error names the last attempt. */
async function awaitSsh(from: LabNode, to: LabNode, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await from.host.run(['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=2', '-l', 'root', to.addresses.lan4!, 'true'], { timeoutMs: 5000 });
    if (r.code === 0) return;
    if (Date.now() > deadline) {
      const why = r.timedOut ? `no answer within ${r.durationMs} ms` : `exit ${r.code ?? r.signal}`;
      throw new Error(`ssh ${from.name} → ${to.name} does not work (${why}): ${r.stderr.trim() || 'nothing on stderr'}`);
    }
    await new Promise((res) => setTimeout(res, 100));
  }
}

/**
 * SSH among every pair of the given routers: each its own sshd on its LAN
 * address and its own client key, trusting every other one's key and knowing
 * its host key.
 */
export async function enableSshMesh(nodes: readonly LabNode[], opts: LabSshOptions = {}): Promise<SshMesh> {
  if (opts.plainRootShell ?? true) await plainRootShell(nodes);
  const keys = new Map<LabNode, { host: string; client: string }>();
  for (const node of nodes) {
    await node.host.mkdirp(SSHD_DIR, 0o700);
    await runChecked(node.host, ['chmod', '700', '/root/.ssh']);
    keys.set(node, { host: await keygen(node, `${SSHD_DIR}/host_ed25519`), client: await keygen(node, '/root/.ssh/id_ed25519') });
    await node.host.writeFileAtomic(`${SSHD_DIR}/sshd_config`, sshdConfig(node.addresses.lan4!), 0o600);
  }
  for (const node of nodes) {
    const others = nodes.filter((o) => o !== node);
    await node.host.writeFileAtomic('/root/.ssh/authorized_keys', others.map((o) => `${keys.get(o)!.client}\n`).join(''), 0o600);
    await node.host.writeFileAtomic('/root/.ssh/known_hosts', others.map((o) => `${o.addresses.lan4} ${keys.get(o)!.host.split(' ').slice(0, 2).join(' ')}\n`).join(''), 0o644);
  }
  const sshd = new Map<string, ChildHandle>();
  const start = (n: LabNode) => sshd.set(n.name, n.host.spawn(['/usr/sbin/sshd', '-D', '-e', '-f', `${SSHD_DIR}/sshd_config`]));
  for (const n of nodes) start(n);
  // Up when each side can run a command on every other one.
  for (const n of nodes) for (const o of nodes) if (o !== n) await awaitSsh(n, o);
  return {
    async restart(n) {
      start(n);
      const peer = nodes.find((o) => o !== n);
      if (peer) await awaitSsh(peer, n);
    },
    async stop() {
      for (const c of sshd.values()) c.kill('SIGTERM');
      await Promise.all([...sshd.values()].map((c) => c.exited));
    },
  };
}

export function enableLabSsh(lab: Lab, opts: LabSshOptions = {}): Promise<LabSsh> {
  return enableSshMesh([lab.nodes.ra, lab.nodes.rb], opts);
}
