// A lab router "losing power": every process in its network namespace gets
// SIGKILL at once, the way a machine's death ends them all. Killing only the
// daemons by name or pid file leaves their children (an rsync push, an ssh
// ControlMaster, a dnsmasq whose pid file was not written yet) alive, and
// they resume their work when the links come back, which no dead machine does.
import { LocalHost } from '../host/local.ts';

export interface PowerOffOptions {
  /** Processes that survive, e.g. the listening sshd (a machine brings it back at boot; its sessions still die). */
  readonly keep?: ReadonlySet<number>;
}

/** SIGKILL every process in `node`'s network namespace except its mount-namespace holder (and `keep`); returns how many. */
export async function powerOff(node: { readonly netns: string; readonly mountNsHolder: number }, opts: PowerOffOptions = {}): Promise<number> {
  const out = await new LocalHost().run(['ip', 'netns', 'pids', node.netns], { timeoutMs: 10_000 });
  if (out.code !== 0) throw new Error(`ip netns pids ${node.netns}: ${out.stderr.trim()}`);
  let killed = 0;
  for (const tok of out.stdout.split(/\s+/)) {
    const pid = Number(tok);
    if (tok === '' || !Number.isInteger(pid) || pid <= 1 || pid === node.mountNsHolder || pid === process.pid || opts.keep?.has(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // gone already
    }
  }
  return killed;
}
