// Failure messages for the N-router lab: what the isp and every router believed when a wait timed out.
import { ispRoutes, routerOfWan } from '../../src/lab/isp.ts';
import type { MultiLab, MultiRouter } from '../../src/lab/multi.ts';
import type { RouterdProcess } from '../../src/lab/routerd.ts';
import { until } from './lab.ts';

function describeRoutes(routes: Map<string, string | undefined>): string {
  return [...routes].map(([a, via]) => `${a}→${routerOfWan(via) ?? via}`).join(' ');
}

/** What each side believes, for a failure message: the isp's routes and BGP sessions, each router's pool view and BFD sessions. */
async function diagnose(lab: MultiLab, procs: Partial<Record<MultiRouter, RouterdProcess>>): Promise<string> {
  const out = [`isp routes: ${describeRoutes(await ispRoutes(lab))}`];
  const isp = await lab.node('isp').host.run(['vtysh', '-N', 'isp', '-c', 'show bgp ipv4 unicast summary'], { timeoutMs: 10_000 });
  out.push(`isp bgp: ${(isp.stdout + isp.stderr).trim()}`);
  const nbr = await lab.node('isp').host.run(['vtysh', '-N', 'isp', '-c', 'show bgp neighbors'], { timeoutMs: 10_000 });
  out.push(`isp neighbors: ${nbr.stdout.split('\n').filter((l) => /BGP neighbor is|BGP state|Last reset|Connections established|Next start timer|Next connect timer|Read thread|BFD/.test(l)).map((l) => l.trim()).join(' | ')}`);
  for (const [r, p] of Object.entries(procs)) {
    if (!p) continue;
    const st = await p.resource('NAT44AddressPool/egress').catch((e: Error) => ({ status: { message: e.message } as Record<string, unknown> }));
    const bfd = await lab.node(r as MultiRouter).host.run(['vtysh', '-N', 'routerd', '-c', 'show bfd peers brief', '-c', 'show bgp ipv4 unicast summary'], { timeoutMs: 10_000 });
    out.push(`${r}: ${JSON.stringify({ membersUp: st?.status.membersUp, owned: st?.status.owned, ready: st?.status.ready, message: st?.status.message })}; bfd: ${(bfd.stdout + bfd.stderr).trim()}`);
    // Its own account: the last pool steps and warnings it logged.
    const lines = p.logs.filter((l) => String(l.action ?? '').startsWith('pool') || Number(l.level) >= 40).slice(-15);
    out.push(`${r} log:\n${lines.map((l) => `    ${JSON.stringify(l)}`).join('\n')}`);
  }
  return out.join('\n');
}

export async function untilOrDiagnose(what: string, lab: MultiLab, procs: Partial<Record<MultiRouter, RouterdProcess>>, fn: () => Promise<boolean>, timeoutMs: number, stepMs: number): Promise<void> {
  try {
    await until(what, fn, timeoutMs, stepMs);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${await diagnose(lab, procs).catch((d: Error) => `diagnosis failed: ${d.message}`)}`);
  }
}

