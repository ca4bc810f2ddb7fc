// Shared by the failback, flap and DHCP failback tests: lab configs with the
// sync mode and handover gate chosen, and a router going dark and coming back.
import { powerOff } from '../../src/lab/power-off.ts';
import type { RouterdProcess } from '../../src/lab/routerd.ts';
import { SSHD_DIR } from '../../src/lab/sshd.ts';
import type { Lab } from '../../src/lab/topology.ts';

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

/**
 * A router dies the way a machine does: links dark first (no goodbye advert
 * gets out), then every process in it at once: routerd, its daemons and
 * whatever they had running (an rsync push, ssh masters, ssh sessions from the
 * peer). Only the listening sshd stays: a machine brings it back at boot.
 */
export async function killRouter(lab: Lab, node: 'ra' | 'rb', proc?: RouterdProcess): Promise<void> {
  await lab.linkDown('sw', `${node}-lan`);
  await lab.linkDown('sw', `${node}-wan`);
  const n = lab.nodes[node];
  const sshd = Number((await n.host.readFile(`${SSHD_DIR}/sshd.pid`))?.trim());
  await powerOff(n, { keep: new Set(Number.isInteger(sshd) ? [sshd] : []) });
  // Reaped by now or soon; the handle's exit is what stopAll waits for.
  if (proc) await Promise.race([proc.child.exited, new Promise((r) => setTimeout(r, 5000))]);
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
