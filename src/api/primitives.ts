// Field types shared by every kind. Each check reports a stable error code
// (RD_E_...) in the issue params, so the loader can name it next to file:line:col.
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { ErrorCode } from './errors.ts';

export const API_VERSION = 'net.routerd.net/v1alpha1';

/** A string field validated by `check`, which returns an error message or undefined. */
function checkedString(rdCode: ErrorCode, check: (s: string) => string | undefined) {
  return z.string().superRefine((s, ctx) => {
    const message = check(s);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message, params: { rdCode }, input: s });
  });
}

export function ipFamily(addr: string): 4 | 6 | undefined {
  if (isIPv4(addr)) return 4;
  if (isIPv6(addr)) return 6;
  return undefined;
}

export const ipv4Address = checkedString(ErrorCode.InvalidAddress, (s) =>
  isIPv4(s) ? undefined : `"${s}" is not an IPv4 address`,
).describe('An IPv4 address, e.g. 198.51.100.100.');

export const ipv6Address = checkedString(ErrorCode.InvalidAddress, (s) =>
  isIPv6(s) ? undefined : `"${s}" is not an IPv6 address`,
).describe('An IPv6 address, e.g. fd00:30::1.');

export const ipAddress = checkedString(ErrorCode.InvalidAddress, (s) =>
  ipFamily(s) ? undefined : `"${s}" is not an IPv4 or IPv6 address`,
).describe('An IPv4 or IPv6 address.');

export interface ParsedCidr {
  readonly address: string;
  readonly prefixLength: number;
  readonly family: 4 | 6;
}

export function parseCidr(s: string): ParsedCidr | string {
  const slash = s.indexOf('/');
  if (slash < 0) return `"${s}" has no prefix length (write it as address/len, e.g. 192.0.2.1/24)`;
  const address = s.slice(0, slash);
  const lenText = s.slice(slash + 1);
  const family = ipFamily(address);
  if (!family) return `"${address}" in "${s}" is not an IP address`;
  if (!/^\d{1,3}$/.test(lenText)) return `prefix length "${lenText}" in "${s}" is not a number`;
  const prefixLength = Number(lenText);
  const max = family === 4 ? 32 : 128;
  if (prefixLength > max) return `prefix length ${prefixLength} in "${s}" exceeds ${max}`;
  return { address, prefixLength, family };
}

/** An interface address: host bits allowed (192.0.2.1/24). */
export const interfaceCidr = checkedString(ErrorCode.InvalidCidr, (s) => {
  const p = parseCidr(s);
  return typeof p === 'string' ? p : undefined;
}).describe('An address with its prefix length, e.g. 192.0.2.1/24.');

/** A network prefix: host bits must be zero (192.0.2.0/24), so a typo is not silently widened. */
export function networkCidr(family?: 4 | 6) {
  return checkedString(ErrorCode.InvalidCidr, (s) => {
    const p = parseCidr(s);
    if (typeof p === 'string') return p;
    if (family && p.family !== family) return `"${s}" is not an IPv${family} prefix`;
    const network = networkAddress(p.address, p.prefixLength);
    if (network !== p.address) return `"${s}" has host bits set (did you mean ${network}/${p.prefixLength}?)`;
    return undefined;
  }).describe('A network prefix with host bits zero, e.g. 192.0.2.0/24.');
}

/** Address bytes (4 or 16), for prefix arithmetic. */
export function addressBytes(addr: string): number[] {
  if (isIPv4(addr)) return addr.split('.').map(Number);
  const [head = '', tail] = addr.split('::');
  const v4Groups = (v4: string): number[] => {
    const b = v4.split('.').map(Number);
    return [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
  };
  const parseGroups = (t: string): number[] =>
    t === '' ? [] : t.split(':').flatMap((g) => (g.includes('.') ? v4Groups(g) : [parseInt(g, 16)]));
  const h = parseGroups(head);
  const t = tail === undefined ? [] : parseGroups(tail);
  const groups = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

export function formatAddress(bytes: readonly number[]): string {
  if (bytes.length === 4) return bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: compress the longest run of two or more zero groups.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function networkAddress(addr: string, prefixLength: number): string {
  const bytes = addressBytes(addr);
  return formatAddress(
    bytes.map((b, i) => {
      const bits = Math.max(0, Math.min(8, prefixLength - i * 8));
      return b & ((0xff << (8 - bits)) & 0xff);
    }),
  );
}

export function cidrContains(cidr: string, addr: string): boolean {
  const p = parseCidr(cidr);
  if (typeof p === 'string' || ipFamily(addr) !== p.family) return false;
  return networkAddress(addr, p.prefixLength) === networkAddress(p.address, p.prefixLength);
}

/** A dotted IPv4 address as an unsigned 32-bit number. */
export function ipv4ToInt(addr: string): number {
  let n = 0;
  let part = 0;
  for (let i = 0; i < addr.length; i++) {
    const c = addr.charCodeAt(i);
    if (c === 46) {
      n = n * 256 + part;
      part = 0;
    } else part = part * 10 + (c - 48);
  }
  return n * 256 + part;
}

/** A prefix test compiled once: cheap enough to run for every flow of a large table. */
export function compileCidr(cidr: string): (addr: string) => boolean {
  const p = parseCidr(cidr);
  if (typeof p === 'string') return () => false;
  if (p.family === 6) return (a) => cidrContains(cidr, a);
  const len = p.prefixLength;
  const div = 2 ** (32 - len);
  const net = Math.floor(ipv4ToInt(p.address) / div);
  return (a) => isIPv4(a) && Math.floor(ipv4ToInt(a) / div) === net;
}

/** Whether prefix `outer` contains all of prefix `inner`. */
export function cidrCovers(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  if (typeof o === 'string' || typeof i === 'string' || o.family !== i.family) return false;
  return o.prefixLength <= i.prefixLength && cidrContains(outer, i.address);
}

/** Compare two addresses of one family numerically. */
export function compareAddresses(a: string, b: string): number {
  const x = addressBytes(a);
  const y = addressBytes(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parse a Go-style duration ("2s", "500ms", "1m30s") into milliseconds. */
export function parseDuration(s: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  if (s.length === 0) return undefined;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  return total;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * The longest duration routerd uses as a timer unless a field says otherwise:
 * far below Node's limit (2^31-1 ms, about 24.8 days), past which a timer
 * fires after 1 ms instead.
 */
export const MAX_TIMER_MS = 24 * 3_600_000;

export function duration(opts: { minMs?: number; maxMs?: number } = {}) {
  const maxMs = opts.maxMs ?? MAX_TIMER_MS;
  return checkedString(ErrorCode.InvalidDuration, (s) => {
    if (s.length > 32) return `"${s.slice(0, 32)}…" is not a duration (use e.g. 500ms, 2s, 1m30s, 12h)`;
    const ms = parseDuration(s);
    if (ms === undefined) return `"${s}" is not a duration (use e.g. 500ms, 2s, 1m30s, 12h)`;
    if (opts.minMs !== undefined && ms < opts.minMs) return `${s} is shorter than the minimum ${formatDuration(opts.minMs)}`;
    if (ms > maxMs) return `${s} is longer than the maximum ${formatDuration(maxMs)}`;
    if (!Number.isInteger(ms)) return `${s} is not a whole number of milliseconds`;
    return undefined;
  }).describe('A duration: a number with unit ms, s, m or h, e.g. 2s or 1m30s.');
}

export interface PortRange {
  readonly from: number;
  readonly to: number;
}

export function parsePortRange(s: string): PortRange | string {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s);
  if (!m) return `"${s}" is not a port range (write it as FROM-TO, e.g. 20000-60000)`;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from < 1 || to > 65535) return `ports in "${s}" must be within 1-65535`;
  if (from > to) return `"${s}" starts above its end`;
  return { from, to };
}

export const portRange = checkedString(ErrorCode.InvalidPortRange, (s) => {
  const p = parsePortRange(s);
  return typeof p === 'string' ? p : undefined;
}).describe('A port range FROM-TO within 1-65535, e.g. "20000-60000".');

export const port = z.number().int().min(1).max(65535).describe('A TCP port, 1-65535.');

/**
 * Interface names: at most 15 bytes (IFNAMSIZ). Restricted to characters that
 * need no quoting in nftables, keepalived and dnsmasq configs.
 */
export const ifname = checkedString(ErrorCode.InvalidValue, (s) =>
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(s)
    ? undefined
    : `"${s}" is not a valid interface name (1-15 letters, digits, ".", "_" or "-")`,
).describe('A Linux interface name, or the name of an Interface resource.');

export const RESOURCE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const resourceName = checkedString(ErrorCode.InvalidName, (s) =>
  RESOURCE_NAME.test(s) && s.length <= 63
    ? undefined
    : `"${s}" is not a valid name (lowercase letters, digits and "-", starting and ending alphanumeric, at most 63)`,
).describe('A resource name: lowercase letters, digits and "-", at most 63 characters.');

export const hostName = checkedString(ErrorCode.InvalidHost, (s) => {
  if (ipFamily(s)) return undefined;
  if (s.length <= 253 && /^(?=.{1,253}$)([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*\.?$/.test(s))
    return undefined;
  return `"${s}" is not a host name or IP address`;
}).describe('A DNS name or IP address.');

export const domainName = checkedString(ErrorCode.InvalidValue, (s) =>
  /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/.test(s)
    ? undefined
    : `"${s}" is not a domain name`,
).describe('A DNS domain name, e.g. lan.example.');

export const userName = checkedString(ErrorCode.InvalidValue, (s) =>
  /^[a-z_][a-z0-9_.-]{0,31}$/i.test(s) ? undefined : `"${s}" is not a valid user name`,
).describe('A login name on the target.');

/** `Kind/name` reference, restricted to the given kinds. */
export function resourceRef(kinds: readonly string[]) {
  return checkedString(ErrorCode.InvalidReference, (s) => {
    const ref = parseRef(s);
    if (!ref) return `"${s}" is not a reference (write it as Kind/name, e.g. ${kinds[0]}/lan)`;
    if (!kinds.includes(ref.kind)) return `"${s}" must refer to ${kinds.join(' or ')}, not ${ref.kind}`;
    return undefined;
  }).describe(`A reference to ${kinds.join(' or ')}, written Kind/name.`);
}

export interface ResourceRef {
  readonly kind: string;
  readonly name: string;
}

export function parseRef(s: string): ResourceRef | undefined {
  const m = /^([A-Z][A-Za-z0-9]*)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(s);
  return m ? { kind: m[1]!, name: m[2]! } : undefined;
}

/** A list whose items are unique; a repeat is an error naming it as `what`. */
export function uniqueList<T extends z.ZodType<string>>(item: T, what: string) {
  return z.array(item).superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((v, i) => {
      if (seen.has(v))
        ctx.addIssue({ code: 'custom', path: [i], message: `${what} "${v}" is listed twice`, params: { rdCode: ErrorCode.DuplicateName } });
      seen.add(v);
    });
  });
}
