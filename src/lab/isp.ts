// The lab's ISP: an FRR instance (zebra, bfdd, bgpd, daemonised, instance
// "isp") in the isp node of the N-router lab. It peers with every router,
// takes only /32s of the WAN range from them and sends them nothing
// (frr-facts §2 and pitfall 3). Started and stopped by the lab (its processes
// die with the lab's namespaces); the config is a fixture of constants.
import { runChecked } from '../host/host.ts';
import { MULTI_ADDRESSES, type MultiLab, type MultiRouter } from './multi.ts';

const INSTANCE = 'isp';
const SBIN = '/usr/lib/frr';

export function ispFrrConf(routers: readonly MultiRouter[], bfd: boolean): string {
  const lines = [
    'frr defaults traditional',
    'service integrated-vtysh-config',
    `ip prefix-list POOL seq 5 permit ${MULTI_ADDRESSES.wan.prefix4} ge 32`,
    'route-map FROM-RTR permit 10',
    ' match ip address prefix-list POOL',
    'exit',
    'route-map TO-RTR deny 10',
    'exit',
    'bgp route-map delay-timer 0',
  ];
  if (bfd) lines.push('bfd', ' profile fast', '  detect-multiplier 3', '  receive-interval 100', '  transmit-interval 100', ' exit', 'exit');
  lines.push(`router bgp ${MULTI_ADDRESSES.isp.asn}`, ` bgp router-id ${MULTI_ADDRESSES.isp.wan}`, ' neighbor RTR peer-group', ' neighbor RTR remote-as external', ' neighbor RTR timers 3 9', ' neighbor RTR timers connect 3');
  if (bfd) lines.push(' neighbor RTR bfd profile fast');
  for (const r of routers) lines.push(` neighbor ${MULTI_ADDRESSES.routers[r].wan} peer-group RTR`);
  lines.push(' address-family ipv4 unicast', '  neighbor RTR route-map FROM-RTR in', '  neighbor RTR route-map TO-RTR out', ' exit-address-family', 'exit', '');
  return lines.join('\n');
}

export async function startIsp(lab: MultiLab, opts: { bfd?: boolean } = {}): Promise<void> {
  const host = lab.node('isp').host;
  const run = (argv: readonly string[]) => runChecked(host, argv, { timeoutMs: 30_000 });
  for (const d of ['/run/frr', `/run/frr/${INSTANCE}`, `/etc/frr/${INSTANCE}`]) {
    await host.mkdirp(d, 0o755);
    await run(['chown', 'frr:frr', d]);
  }
  for (const [file, text] of [
    [`/etc/frr/${INSTANCE}/frr.conf`, ispFrrConf(lab.routers, opts.bfd ?? true)],
    [`/etc/frr/${INSTANCE}/vtysh.conf`, 'service integrated-vtysh-config\n'],
  ] as const) {
    await host.writeFileAtomic(file, text, 0o640);
    await run(['chown', 'frr:frr', file]);
  }
  await run([`${SBIN}/zebra`, '-N', INSTANCE, '-P', '0', '-d']);
  const until = Date.now() + 10_000;
  while (!(await host.exists(`/run/frr/${INSTANCE}/zserv.api`))) {
    if (Date.now() > until) throw new Error('isp zebra did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  await run([`${SBIN}/bfdd`, '-N', INSTANCE, '-P', '0', '-d']);
  await run([`${SBIN}/bgpd`, '-N', INSTANCE, '-P', '0', '-d']);
  await run(['vtysh', '-N', INSTANCE, '-b']);
}

export interface IspRoute {
  readonly dst: string;
  readonly via: string | undefined;
}

/** The isp's BGP routes for the pool: /32 → next hop (the router it sends that address's traffic to). */
export async function ispRoutes(lab: MultiLab): Promise<Map<string, string | undefined>> {
  const r = await runChecked(lab.node('isp').host, ['ip', '-j', '-4', 'route', 'show', 'proto', 'bgp'], { timeoutMs: 10_000 });
  const parsed = JSON.parse(r.stdout || '[]') as { dst: string; gateway?: string }[];
  return new Map(parsed.map((x) => [x.dst.replace(/\/32$/, ''), x.gateway]));
}

/** The router (by WAN address) a next hop belongs to. */
export function routerOfWan(addr: string | undefined): MultiRouter | undefined {
  return (Object.entries(MULTI_ADDRESSES.routers) as [MultiRouter, { wan: string }][]).find(([, a]) => a.wan === addr)?.[0];
}
