// frr.conf for one node: BFD profiles and liveness peers (bfdd), the upstream
// sessions and the pool's /32s (bgpd). FRR parses this file by its own rules,
// so every value is checked here again, whatever the schema already checked:
// a stray newline in a name would otherwise be a config statement.
// FRR facts this relies on: /work/shared/docs/frr-facts.md (router-id set
// explicitly, delay-timer 0, policies on every eBGP session, no import-check
// for the pre-announced standby routes).
import { isIPv4 } from 'node:net';

export interface FrrBfdProfile {
  readonly name: string;
  readonly detectMultiplier: number;
  readonly receiveIntervalMs: number;
  readonly transmitIntervalMs: number;
}

export interface FrrPeer {
  readonly address: string;
  readonly remoteAs: number;
  readonly holdTimeS: number;
  readonly bfdProfile?: string | undefined;
}

export interface FrrInput {
  readonly asn: number;
  readonly routerId: string;
  readonly peers: readonly FrrPeer[];
  readonly bfdProfiles: readonly FrrBfdProfile[];
  /** Single-hop BFD sessions with no BGP on them: the pool members watching each other. */
  readonly bfdPeers: readonly { readonly address: string; readonly profile: string }[];
  /** Every address of the pool: the only prefixes ever sent upstream. */
  readonly pool: readonly string[];
  /** /32s announced as the owner. */
  readonly owned: readonly string[];
  /** /32s pre-announced as the successor, with a longer AS path. */
  readonly standby: readonly string[];
  /** How many times the successor prepends its AS (>= 1 when standby is not empty). */
  readonly prepend: number;
}

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export class FrrConfigError extends Error {}

function check(ok: boolean, what: string): void {
  if (!ok) throw new FrrConfigError(`refusing to render frr.conf: ${what}`);
}

function checkAsn(n: number, what: string): void {
  check(Number.isInteger(n) && n >= 1 && n <= 4_294_967_294, `${what} ${String(n)} is not an AS number`);
}

function checkAddress(a: string, what: string): void {
  check(isIPv4(a), `${what} ${JSON.stringify(a)} is not an IPv4 address`);
}

function checkInt(n: number, min: number, max: number, what: string): void {
  check(Number.isInteger(n) && n >= min && n <= max, `${what} ${String(n)} is not an integer in ${min}-${max}`);
}

export function validateFrrInput(i: FrrInput): void {
  checkAsn(i.asn, 'asn');
  checkAddress(i.routerId, 'router id');
  for (const p of i.bfdProfiles) {
    check(NAME.test(p.name), `BFD profile name ${JSON.stringify(p.name)}`);
    checkInt(p.detectMultiplier, 2, 255, 'detect-multiplier');
    checkInt(p.receiveIntervalMs, 10, 60_000, 'receive-interval');
    checkInt(p.transmitIntervalMs, 10, 60_000, 'transmit-interval');
  }
  const profiles = new Set(i.bfdProfiles.map((p) => p.name));
  for (const p of i.peers) {
    checkAddress(p.address, 'peer');
    checkAsn(p.remoteAs, 'peer AS');
    checkInt(p.holdTimeS, 3, 65_535, 'hold time');
    if (p.bfdProfile !== undefined) check(profiles.has(p.bfdProfile), `peer ${p.address} uses unknown BFD profile ${JSON.stringify(p.bfdProfile)}`);
  }
  for (const p of i.bfdPeers) {
    checkAddress(p.address, 'BFD peer');
    check(profiles.has(p.profile), `BFD peer ${p.address} uses unknown profile ${JSON.stringify(p.profile)}`);
  }
  const pool = new Set(i.pool);
  for (const a of i.pool) checkAddress(a, 'pool address');
  for (const a of [...i.owned, ...i.standby]) check(pool.has(a), `${a} is announced but not in the pool`);
  check(!i.owned.some((a) => i.standby.includes(a)), 'an address is both owned and standby');
  checkInt(i.prepend, i.standby.length > 0 ? 1 : 0, 8, 'prepend count');
}

/** The `network` lines of the ipv4 unicast family: the part that changes with ownership. */
export function networkLines(i: Pick<FrrInput, 'owned' | 'standby'>): string[] {
  return [...i.owned.map((a) => `network ${a}/32`), ...i.standby.map((a) => `network ${a}/32 route-map ROUTERD-STANDBY`)].sort();
}

export function renderFrrConf(i: FrrInput): string {
  validateFrrInput(i);
  const out: string[] = ['! Rendered by routerd; edits are overwritten.', 'frr defaults traditional', 'service integrated-vtysh-config', '!'];
  const pool = [...i.pool].sort();
  pool.forEach((a, k) => out.push(`ip prefix-list ROUTERD-POOL seq ${(k + 1) * 5} permit ${a}/32`));
  out.push(
    '!',
    'route-map ROUTERD-STANDBY permit 10',
    ` set as-path prepend ${Array.from({ length: Math.max(1, i.prepend) }, () => String(i.asn)).join(' ')}`,
    'exit',
    '!',
    // Only pool /32s go out; nothing is taken in (the routers need no upstream routes for this).
    'route-map ROUTERD-OUT permit 10',
    ' match ip address prefix-list ROUTERD-POOL',
    'exit',
    '!',
    'route-map ROUTERD-IN deny 10',
    'exit',
    '!',
    'bgp route-map delay-timer 0',
    '!',
  );
  if (i.bfdProfiles.length > 0 || i.bfdPeers.length > 0) {
    out.push('bfd');
    for (const p of [...i.bfdProfiles].sort((a, b) => a.name.localeCompare(b.name)))
      out.push(` profile ${p.name}`, `  detect-multiplier ${p.detectMultiplier}`, `  receive-interval ${p.receiveIntervalMs}`, `  transmit-interval ${p.transmitIntervalMs}`, ' exit');
    for (const p of [...i.bfdPeers].sort((a, b) => a.address.localeCompare(b.address))) out.push(` peer ${p.address}`, `  profile ${p.profile}`, ' exit');
    out.push('exit', '!');
  }
  out.push(`router bgp ${i.asn}`, ` bgp router-id ${i.routerId}`, ' no bgp network import-check');
  const peers = [...i.peers].sort((a, b) => a.address.localeCompare(b.address));
  for (const p of peers) {
    const keepaliveS = Math.max(1, Math.floor(p.holdTimeS / 3));
    // The connect retry follows the keepalive, not FRR's traditional 120 s: a session whose first connection
    // was refused (the peer was still Idle, or not listening yet) would otherwise stay down two minutes.
    out.push(` neighbor ${p.address} remote-as ${p.remoteAs}`, ` neighbor ${p.address} timers ${keepaliveS} ${p.holdTimeS}`, ` neighbor ${p.address} timers connect ${keepaliveS}`);
    if (p.bfdProfile !== undefined) out.push(` neighbor ${p.address} bfd profile ${p.bfdProfile}`);
  }
  out.push(' !', ' address-family ipv4 unicast');
  for (const l of networkLines(i)) out.push(`  ${l}`);
  for (const p of peers) out.push(`  neighbor ${p.address} route-map ROUTERD-IN in`, `  neighbor ${p.address} route-map ROUTERD-OUT out`);
  out.push(' exit-address-family', 'exit', '');
  return out.join('\n');
}

/**
 * vtysh argv tails that turn the running `network` lines `from` into `to`
 * without touching the sessions (a restart would drop every route upstream).
 */
export function networkChangeCommands(asn: number, from: readonly string[], to: readonly string[]): string[] {
  checkAsn(asn, 'asn');
  const gone = from.filter((l) => !to.includes(l));
  const added = to.filter((l) => !from.includes(l));
  if (gone.length === 0 && added.length === 0) return [];
  for (const l of [...gone, ...added]) check(/^network \d+\.\d+\.\d+\.\d+\/32( route-map ROUTERD-STANDBY)?$/.test(l), `network line ${JSON.stringify(l)}`);
  // An address that stays announced but changes form (standby to owned) gets
  // only its new line: FRR replaces the route-map of an existing network in
  // place, where `no network` first would withdraw it upstream for a moment.
  const addressOf = (l: string) => l.split(' ')[1]!;
  const kept = new Set(to.map(addressOf));
  const withdraw = gone.filter((l) => !kept.has(addressOf(l)));
  return ['configure terminal', `router bgp ${asn}`, 'address-family ipv4 unicast', ...withdraw.map((l) => `no ${l}`), ...added, 'end'];
}
