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
  readonly sshd: Record<'ra' | 'rb', ChildHandle>;
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
export async function plainRootShell(lab: Lab): Promise<boolean> {
  let done = false;
  for (const n of [lab.nodes.ra, lab.nodes.rb]) {
    if (!(await n.host.exists('/root/.bashrc'))) continue;
    await n.host.mkdirp(SSHD_DIR, 0o700);
    await n.host.writeFileAtomic(PLAIN_BASHRC, '# lab router: nothing to set up for commands run by sshd\n', 0o644);
    await runChecked(n.host, ['mount', '--bind', PLAIN_BASHRC, '/root/.bashrc']);
    done = true;
  }
  return done;
}

export async function enableLabSsh(lab: Lab, opts: LabSshOptions = {}): Promise<LabSsh> {
  const routers = { ra: lab.nodes.ra, rb: lab.nodes.rb };
  if (opts.plainRootShell ?? true) await plainRootShell(lab);
  const keys: Record<string, { host: string; client: string }> = {};
  for (const [name, node] of Object.entries(routers)) {
    await node.host.mkdirp(SSHD_DIR, 0o700);
    await runChecked(node.host, ['chmod', '700', '/root/.ssh']);
    keys[name] = { host: await keygen(node, `${SSHD_DIR}/host_ed25519`), client: await keygen(node, '/root/.ssh/id_ed25519') };
    await node.host.writeFileAtomic(`${SSHD_DIR}/sshd_config`, sshdConfig(node.addresses.lan4!), 0o600);
  }
  for (const [name, node] of Object.entries(routers)) {
    const peer = name === 'ra' ? 'rb' : 'ra';
    const peerNode = routers[peer];
    await node.host.writeFileAtomic('/root/.ssh/authorized_keys', `${keys[peer]!.client}\n`, 0o600);
    await node.host.writeFileAtomic('/root/.ssh/known_hosts', `${peerNode.addresses.lan4} ${keys[peer]!.host.split(' ').slice(0, 2).join(' ')}\n`, 0o644);
  }
  const sshd = {
    ra: routers.ra.host.spawn(['/usr/sbin/sshd', '-D', '-e', '-f', `${SSHD_DIR}/sshd_config`]),
    rb: routers.rb.host.spawn(['/usr/sbin/sshd', '-D', '-e', '-f', `${SSHD_DIR}/sshd_config`]),
  };
  // Up when each side can run a command on the other, with host-key checking on.
  for (const [name, node] of Object.entries(routers)) {
    const peer = routers[name === 'ra' ? 'rb' : 'ra'];
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await node.host.run(['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=2', '-l', 'root', peer.addresses.lan4!, 'true'], { timeoutMs: 5000 });
      if (r.code === 0) break;
      if (Date.now() > deadline) throw new Error(`ssh ${name} → ${peer.name} does not work: ${r.stderr.trim()}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  return {
    sshd,
    async stop() {
      for (const c of Object.values(sshd)) c.kill('SIGTERM');
      await Promise.all(Object.values(sshd).map((c) => c.exited));
    },
  };
}
