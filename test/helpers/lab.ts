// Shared lab plumbing for e2e tests: configs into routers, addresses held,
// routerd processes, cleanup.
import { readFile } from 'node:fs/promises';
import { ipAddrShowArgv, parseIpAddr } from '../../src/kernel/ip.ts';
import { LAB_CONFIG_PATH, type RouterdProcess } from '../../src/lab/routerd.ts';
import type { Lab, LabNode } from '../../src/lab/topology.ts';
import { example } from './paths.ts';

export const verboseEcho = process.env.ROUTERD_E2E_VERBOSE === '1' ? (node: string, line: string) => console.log(`[${node}] ${line}`) : undefined;

export async function installConfig(node: LabNode, yaml: string): Promise<void> {
  await node.host.writeFileAtomic(LAB_CONFIG_PATH, yaml);
}

export async function labConfig(router: 'a' | 'b'): Promise<string> {
  return readFile(example(`lab/router-${router}.yaml`), 'utf8');
}

/** Addresses (without prefix) configured on a node right now, from the kernel. */
export async function addressesOn(node: LabNode): Promise<Set<string>> {
  const r = await node.host.run(ipAddrShowArgv());
  return new Set(parseIpAddr(r.stdout).items.flatMap((i) => i.addresses.map((a) => a.local)));
}

/** Which routers hold `addr`. */
export async function holders(lab: Lab, addr: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of ['ra', 'rb'] as const) if ((await addressesOn(lab.nodes[n])).has(addr)) out.push(n);
  return out;
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000, stepMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export async function stopAll(procs: readonly (RouterdProcess | undefined)[]): Promise<void> {
  await Promise.all(procs.map((p) => p?.stop('SIGKILL').catch(() => undefined)));
}

export function killPid(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

export async function roleOf(p: RouterdProcess): Promise<string | undefined> {
  const r = await p.resource('VirtualAddress/lan-vip');
  return r?.status.role as string | undefined;
}
