// iproute2 (6.1): parsers for `ip -j` output and argv builders for the few
// changes routerd makes. JSON is validated item by item: one odd interface is
// reported in `errors`, the others still come through.
import { isIP, isIPv6 } from 'node:net';
import { z } from 'zod';

export interface JsonIssue {
  /** Where in the document: `$[3].addr_info[1]`. */
  readonly path: string;
  readonly message: string;
}

export interface IpAddress {
  readonly family: 'inet' | 'inet6';
  readonly local: string;
  readonly prefixlen: number;
  readonly scope?: string;
  readonly label?: string;
  readonly broadcast?: string;
  /** A second address in an already configured IPv4 subnet: removed with the primary unless promote_secondaries. */
  readonly secondary: boolean;
  /** IPv6 DAD still running: the address cannot be used as a source yet. */
  readonly tentative: boolean;
  readonly dadfailed: boolean;
  readonly deprecated: boolean;
  readonly nodad: boolean;
  readonly dynamic: boolean;
  /** Seconds; 4294967295 means forever. */
  readonly validLifetime?: number;
  readonly preferredLifetime?: number;
}

export interface IpLink {
  readonly index: number;
  readonly name: string;
  readonly flags: readonly string[];
  /** Administratively up (the UP flag). */
  readonly up: boolean;
  /** Carrier present (LOWER_UP). */
  readonly lowerUp: boolean;
  /** UP, DOWN, LOWERLAYERDOWN, UNKNOWN (loopback, some virtual links), ... */
  readonly operstate: string;
  readonly mtu?: number;
  readonly mac?: string;
  readonly linkType?: string;
  /** Bridge or bond this link is enslaved to. */
  readonly master?: string;
  /** The other end of a veth, or the lower device of a vlan/macvlan (`link`). */
  readonly peer?: string;
  /** veth, bridge, vlan, ... only with `ip -d` (details). */
  readonly kind?: string;
  /** bridge, bond, ... when this link is a port; only with `ip -d`. */
  readonly portKind?: string;
}

export interface IpInterface extends IpLink {
  readonly addresses: readonly IpAddress[];
}

export interface IpRoute {
  /** "default" or a prefix ("192.0.2.0/24"); a host route has no "/len". */
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly protocol?: string;
  readonly scope?: string;
  readonly prefsrc?: string;
  readonly metric?: number;
  readonly type?: string;
  readonly table?: string;
  readonly flags: readonly string[];
}

export interface IpParseResult<T> {
  readonly items: T[];
  readonly errors: JsonIssue[];
}

const addrSchema = z.object({
  family: z.enum(['inet', 'inet6']),
  local: z.string().refine((s) => isIP(s) !== 0, 'not an IP address'),
  prefixlen: z.number().int().min(0).max(128),
  scope: z.string().optional(),
  label: z.string().optional(),
  broadcast: z.string().optional(),
  secondary: z.boolean().optional(),
  tentative: z.boolean().optional(),
  dadfailed: z.boolean().optional(),
  deprecated: z.boolean().optional(),
  nodad: z.boolean().optional(),
  dynamic: z.boolean().optional(),
  valid_life_time: z.number().optional(),
  preferred_life_time: z.number().optional(),
});

const linkSchema = z.object({
  ifindex: z.number().int().positive(),
  ifname: z.string().min(1),
  flags: z.array(z.string()),
  operstate: z.string(),
  mtu: z.number().optional(),
  address: z.string().optional(),
  link_type: z.string().optional(),
  master: z.string().optional(),
  link: z.string().nullable().optional(),
  linkinfo: z.object({ info_kind: z.string().optional(), info_slave_kind: z.string().optional() }).optional(),
});

const interfaceSchema = linkSchema.extend({ addr_info: z.array(z.unknown()).optional() });

const routeSchema = z.object({
  dst: z.string(),
  gateway: z.string().optional(),
  dev: z.string().optional(),
  protocol: z.string().optional(),
  scope: z.string().optional(),
  prefsrc: z.string().optional(),
  metric: z.number().optional(),
  type: z.string().optional(),
  table: z.string().optional(),
  flags: z.array(z.string()).optional(),
});

function issuePath(base: string, path: readonly PropertyKey[]): string {
  return base + path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
}

function zodIssues(base: string, err: z.ZodError): JsonIssue[] {
  return err.issues.map((i) => ({ path: issuePath(base, i.path), message: i.message }));
}

/** Parse a JSON array, or report why not. */
function jsonArray(text: string): { items: unknown[]; errors: JsonIssue[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(text.trim() === '' ? '[]' : text);
  } catch (e) {
    return { items: [], errors: [{ path: '$', message: `invalid JSON: ${(e as Error).message}` }] };
  }
  if (!Array.isArray(doc)) return { items: [], errors: [{ path: '$', message: 'expected a JSON array' }] };
  return { items: doc, errors: [] };
}

function toLink(l: z.infer<typeof linkSchema>): IpLink {
  return {
    index: l.ifindex,
    name: l.ifname,
    flags: l.flags,
    up: l.flags.includes('UP'),
    lowerUp: l.flags.includes('LOWER_UP'),
    operstate: l.operstate,
    ...(l.mtu !== undefined ? { mtu: l.mtu } : {}),
    ...(l.address !== undefined ? { mac: l.address } : {}),
    ...(l.link_type !== undefined ? { linkType: l.link_type } : {}),
    ...(l.master !== undefined ? { master: l.master } : {}),
    ...(typeof l.link === 'string' ? { peer: l.link } : {}),
    ...(l.linkinfo?.info_kind !== undefined ? { kind: l.linkinfo.info_kind } : {}),
    ...(l.linkinfo?.info_slave_kind !== undefined ? { portKind: l.linkinfo.info_slave_kind } : {}),
  };
}

function toAddress(a: z.infer<typeof addrSchema>): IpAddress {
  return {
    family: a.family,
    local: a.local,
    prefixlen: a.prefixlen,
    ...(a.scope !== undefined ? { scope: a.scope } : {}),
    ...(a.label !== undefined ? { label: a.label } : {}),
    ...(a.broadcast !== undefined ? { broadcast: a.broadcast } : {}),
    secondary: a.secondary ?? false,
    tentative: a.tentative ?? false,
    dadfailed: a.dadfailed ?? false,
    deprecated: a.deprecated ?? false,
    nodad: a.nodad ?? false,
    dynamic: a.dynamic ?? false,
    ...(a.valid_life_time !== undefined ? { validLifetime: a.valid_life_time } : {}),
    ...(a.preferred_life_time !== undefined ? { preferredLifetime: a.preferred_life_time } : {}),
  };
}

/** `ip -j [-d] addr show`: interfaces with their addresses. */
export function parseIpAddr(text: string): IpParseResult<IpInterface> {
  const { items, errors } = jsonArray(text);
  const out: IpInterface[] = [];
  items.forEach((raw, i) => {
    const r = interfaceSchema.safeParse(raw);
    if (!r.success) {
      errors.push(...zodIssues(`$[${i}]`, r.error));
      return;
    }
    const addresses: IpAddress[] = [];
    (r.data.addr_info ?? []).forEach((rawAddr, j) => {
      const a = addrSchema.safeParse(rawAddr);
      if (a.success) addresses.push(toAddress(a.data));
      else errors.push(...zodIssues(`$[${i}].addr_info[${j}]`, a.error));
    });
    out.push({ ...toLink(r.data), addresses });
  });
  return { items: out, errors };
}

/** `ip -j [-d] link show`. */
export function parseIpLink(text: string): IpParseResult<IpLink> {
  const { items, errors } = jsonArray(text);
  const out: IpLink[] = [];
  items.forEach((raw, i) => {
    const r = linkSchema.safeParse(raw);
    if (r.success) out.push(toLink(r.data));
    else errors.push(...zodIssues(`$[${i}]`, r.error));
  });
  return { items: out, errors };
}

/** `ip -j [-4|-6] route show`. */
export function parseIpRoute(text: string): IpParseResult<IpRoute> {
  const { items, errors } = jsonArray(text);
  const out: IpRoute[] = [];
  items.forEach((raw, i) => {
    const r = routeSchema.safeParse(raw);
    if (!r.success) {
      errors.push(...zodIssues(`$[${i}]`, r.error));
      return;
    }
    const { flags, ...rest } = r.data;
    out.push({ ...rest, flags: flags ?? [] });
  });
  return { items: out, errors };
}

// ---------------------------------------------------------------------------
// argv

/** Kernel interface names: 1..15 bytes, no '/', ':' or whitespace. */
export function isValidIfname(name: string): boolean {
  return /^[^\s/:]{1,15}$/.test(name) && name !== '.' && name !== '..';
}

function checkIfname(dev: string): string {
  if (!isValidIfname(dev)) throw new TypeError(`invalid interface name: ${JSON.stringify(dev)}`);
  return dev;
}

function checkPrefix(address: string, prefixlen: number): string {
  const fam = isIP(address);
  if (fam === 0) throw new TypeError(`not an IP address: ${address}`);
  const max = fam === 4 ? 32 : 128;
  if (!Number.isInteger(prefixlen) || prefixlen < 0 || prefixlen > max) {
    throw new TypeError(`prefix length ${prefixlen} out of range for ${address}`);
  }
  return `${address}/${prefixlen}`;
}

export interface IpShowOptions {
  readonly dev?: string;
  readonly family?: 'inet' | 'inet6';
  /** `-d`: adds linkinfo (kind veth/bridge, port kind). */
  readonly details?: boolean;
}

function showArgv(object: 'addr' | 'link', opts: IpShowOptions): string[] {
  const argv = ['ip', '-j'];
  if (opts.details) argv.push('-d');
  if (opts.family) argv.push(opts.family === 'inet' ? '-4' : '-6');
  argv.push(object, 'show');
  // A missing device: exit 1, 'Device "X" does not exist.' on stderr.
  if (opts.dev !== undefined) argv.push('dev', checkIfname(opts.dev));
  return argv;
}

export function ipAddrShowArgv(opts: IpShowOptions = {}): string[] {
  return showArgv('addr', opts);
}

export function ipLinkShowArgv(opts: Omit<IpShowOptions, 'family'> = {}): string[] {
  return showArgv('link', opts);
}

export function ipRouteShowArgv(opts: { family?: 'inet' | 'inet6'; table?: string } = {}): string[] {
  const argv = ['ip', '-j'];
  if (opts.family) argv.push(opts.family === 'inet' ? '-4' : '-6');
  argv.push('route', 'show');
  if (opts.table !== undefined) {
    if (!/^[A-Za-z0-9_-]+$/.test(opts.table)) throw new TypeError(`invalid route table: ${opts.table}`);
    argv.push('table', opts.table);
  }
  return argv;
}

export interface IpAddrChange {
  readonly dev: string;
  readonly address: string;
  readonly prefixlen: number;
}

export interface IpAddrAddOptions extends IpAddrChange {
  /** `replace` instead of `add`, which exits 2 ("Error: ipv4: Address already assigned.") when it is there. */
  readonly replace?: boolean;
  /** IPv4 label, must start with the device name ("br0:vip"). */
  readonly label?: string;
  /**
   * IPv6 only, default true: skip duplicate address detection, which keeps a
   * moved address "tentative" (unusable as a source) for a second or more.
   */
  readonly nodad?: boolean;
}

export function ipAddrAddArgv(opts: IpAddrAddOptions): string[] {
  const argv = ['ip', 'addr', opts.replace ? 'replace' : 'add', checkPrefix(opts.address, opts.prefixlen)];
  argv.push('dev', checkIfname(opts.dev));
  if (opts.label !== undefined) {
    if (isIPv6(opts.address)) throw new TypeError('address labels are IPv4 only');
    if (!opts.label.startsWith(opts.dev) || !/^[^\s/]{1,15}$/.test(opts.label)) {
      throw new TypeError(`label ${opts.label} must start with ${opts.dev} and fit 15 bytes`);
    }
    argv.push('label', opts.label);
  }
  if (isIPv6(opts.address) && (opts.nodad ?? true)) argv.push('nodad');
  return argv;
}

/** Removing an address that is not there exits 2 ("Error: ipv4: Address not found."). */
export function ipAddrDelArgv(opts: IpAddrChange): string[] {
  return ['ip', 'addr', 'del', checkPrefix(opts.address, opts.prefixlen), 'dev', checkIfname(opts.dev)];
}

export function ipLinkSetUpArgv(dev: string): string[] {
  return ['ip', 'link', 'set', 'dev', checkIfname(dev), 'up'];
}

export function ipLinkSetDownArgv(dev: string): string[] {
  return ['ip', 'link', 'set', 'dev', checkIfname(dev), 'down'];
}
