// Shared by the failback, flap and DHCP failback tests: lab configs with the
// sync mode and handover gate chosen, and a router going dark and coming back.
import { killConntrackd, killKeepalived, type RouterdProcess } from '../../src/lab/routerd.ts';
import type { Lab } from '../../src/lab/topology.ts';
import { killPid } from './lab.ts';

export interface FailbackOptions {
  readonly mode?: 'snapshot' | 'stream' | 'conntrackd';
  /** false: handover.waitForState false (the router takes the role at once). */
  readonly gate?: boolean;
}

export function failbackConfig(yaml: string, o: FailbackOptions): string {
  let y = yaml;
  if (o.mode === 'stream') y = y.replace('mode: snapshot\n    interval: 1s', 'mode: stream\n    interval: 10s');
  if (o.mode === 'conntrackd') y = y.replace('mode: snapshot\n    interval: 1s', 'mode: conntrackd');
  if (o.gate === false) y = y.replace('    advertInterval: 200ms\n', '    advertInterval: 200ms\n    handover:\n      waitForState: false\n');
  if (y === yaml && (o.mode === 'stream' || o.mode === 'conntrackd' || o.gate === false)) throw new Error('lab config did not take the failback options');
  return y;
}

/** A router dies the way a machine does: links dark first (no goodbye advert gets out), then its processes. */
export async function killRouter(lab: Lab, node: 'ra' | 'rb', proc: RouterdProcess | undefined): Promise<void> {
  await lab.linkDown('sw', `${node}-lan`);
  await lab.linkDown('sw', `${node}-wan`);
  killPid(proc?.pid, 'SIGKILL');
  await killKeepalived(lab.nodes[node]);
  await killConntrackd(lab.nodes[node], 'lan-sessions');
}

export async function reviveRouter(lab: Lab, node: 'ra' | 'rb'): Promise<void> {
  await lab.linkUp('sw', `${node}-lan`);
  await lab.linkUp('sw', `${node}-wan`);
}

/**
 * Keep the peer's pushes out (ssh to this router dropped): the returning
 * router's state can then only come from its own pull, which is what happens
 * when the master's target for it is still in backoff (issue 12).
 */
export async function blockIncomingSsh(lab: Lab, node: 'ra' | 'rb'): Promise<void> {
  const r = await lab.nodes[node].host.run(['nft', '-f', '-'], {
    stdin: 'table ip lab_ssh_block {\nchain input {\ntype filter hook input priority -10; policy accept;\ntcp dport 22 drop\n}\n}\n',
  });
  if (r.code !== 0) throw new Error(`blocking ssh on ${node}: ${r.stderr}`);
}

export async function unblockIncomingSsh(lab: Lab, node: 'ra' | 'rb'): Promise<void> {
  await lab.nodes[node].host.run(['nft', 'delete', 'table', 'ip', 'lab_ssh_block']);
}
