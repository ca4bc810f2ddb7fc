// FRR's own paths for routerd's instance. `-N routerd` only inserts the name
// into FRR's paths (frr-facts §1): /etc/frr/routerd/ and /var/run/frr/routerd/.
import { join } from 'node:path';

export const FRR_INSTANCE = 'routerd';
export const FRR_SBIN = '/usr/lib/frr';

export const frrPaths = {
  etcDir: join('/etc/frr', FRR_INSTANCE),
  conf: join('/etc/frr', FRR_INSTANCE, 'frr.conf'),
  vtyshConf: join('/etc/frr', FRR_INSTANCE, 'vtysh.conf'),
  runParent: '/var/run/frr',
  runDir: join('/var/run/frr', FRR_INSTANCE),
  pidFile: (daemon: string) => join('/var/run/frr', FRR_INSTANCE, `${daemon}.pid`),
  zservSocket: join('/var/run/frr', FRR_INSTANCE, 'zserv.api'),
} as const;
