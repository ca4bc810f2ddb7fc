// The dnsmasq lease file (dnsmasq 2.90, src/lease.c lease_update_file):
//   <expiry epoch> <hwaddr> <ipv4> <hostname|*> <client-id|*>       one per DHCPv4 lease
//   duid <server duid>                                               once, if DHCPv6 is on
//   <expiry epoch> [T]<iaid> <ipv6> <hostname|*> <client-duid|*>    one per DHCPv6 lease
// dnsmasq rewrites the file in place (rewind, ftruncate, write, fflush), so a
// reader can catch it empty or cut mid-line: lease sync validates a copy with
// this parser before pushing it over a good one.
import { isIPv4, isIPv6 } from 'node:net';

export interface DnsmasqLease4 {
  /** Expiry, seconds since the epoch; 0 means never. */
  readonly expires: number;
  /** `aa:bb:..` for Ethernet, `TT-aa:bb:..` for other hardware types. */
  readonly hwaddr: string;
  readonly address: string;
  readonly hostname?: string;
  readonly clientId?: string;
}

export interface DnsmasqLease6 {
  readonly expires: number;
  readonly iaid: number;
  /** IA_TA (temporary) rather than IA_NA. */
  readonly temporary: boolean;
  readonly address: string;
  readonly hostname?: string;
  readonly clientDuid?: string;
}

export interface DnsmasqLeaseFile {
  readonly v4: readonly DnsmasqLease4[];
  /** The server's own DHCPv6 DUID; a dnsmasq started on this file keeps it. */
  readonly serverDuid?: string;
  readonly v6: readonly DnsmasqLease6[];
}

export type DnsmasqLeaseParse =
  | { readonly ok: true; readonly leases: DnsmasqLeaseFile }
  | { readonly ok: false; readonly error: string; readonly line?: number };

const HEX_BYTES = /^[0-9a-f]{2}(?::[0-9a-f]{2})*$/i;
const HWADDR = /^(?:[0-9a-f]{2}(?::[0-9a-f]{2})*|[0-9a-f]{2}-(?:[0-9a-f]{2}(?::[0-9a-f]{2})*)?)$/i;
const EXPIRY = /^\d{1,12}$/;
const IAID = /^(T?)(\d{1,10})$/;
const HOSTNAME = /^[^\s\0]+$/;

function optional(field: string): string | undefined {
  return field === '*' ? undefined : field;
}

function bad(line: number, error: string): DnsmasqLeaseParse {
  return { ok: false, line, error: `line ${line}: ${error}` };
}

/** Parse and validate a whole lease file; any defect rejects the file (it is never partly trusted). */
export function parseDnsmasqLeases(text: string): DnsmasqLeaseParse {
  if (text.length === 0) return { ok: true, leases: { v4: [], v6: [] } };
  if (text.includes('\0')) return { ok: false, error: 'contains NUL bytes (not a dnsmasq lease file)' };
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') return { ok: false, line: lines.length, error: `line ${lines.length}: ends mid-line (truncated)` };
  lines.pop();
  const v4: DnsmasqLease4[] = [];
  const v6: DnsmasqLease6[] = [];
  let serverDuid: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const fields = lines[i]!.split(' ');
    if (fields[0] === 'duid') {
      if (serverDuid !== undefined) return bad(n, 'a second duid line');
      if (fields.length !== 2 || !HEX_BYTES.test(fields[1]!)) return bad(n, `"${lines[i]!.slice(0, 60)}" is not "duid <hex bytes>"`);
      serverDuid = fields[1]!.toLowerCase();
      continue;
    }
    if (fields.length !== 5) return bad(n, `${fields.length} fields, want 5 ("${lines[i]!.slice(0, 60)}")`);
    const [expiry, second, address, hostname, id] = fields as [string, string, string, string, string];
    if (!EXPIRY.test(expiry)) return bad(n, `expiry "${expiry.slice(0, 20)}" is not a number`);
    if (!HOSTNAME.test(hostname)) return bad(n, 'empty hostname field');
    if (id !== '*' && !HEX_BYTES.test(id)) return bad(n, `client id "${id.slice(0, 40)}" is not hex bytes`);
    if (serverDuid === undefined) {
      if (!HWADDR.test(second)) return bad(n, `hardware address "${second.slice(0, 40)}" is malformed`);
      if (!isIPv4(address)) return bad(n, `"${address.slice(0, 40)}" is not an IPv4 address`);
      v4.push({ expires: Number(expiry), hwaddr: second.toLowerCase(), address, ...opt('hostname', optional(hostname)), ...opt('clientId', optional(id)) });
    } else {
      const m = IAID.exec(second);
      if (!m || Number(m[2]) > 0xffffffff) return bad(n, `IAID "${second.slice(0, 20)}" is malformed`);
      if (!isIPv6(address)) return bad(n, `"${address.slice(0, 40)}" is not an IPv6 address`);
      v6.push({
        expires: Number(expiry),
        iaid: Number(m[2]),
        temporary: m[1] === 'T',
        address,
        ...opt('hostname', optional(hostname)),
        ...opt('clientDuid', optional(id)),
      });
    }
  }
  return { ok: true, leases: { v4, v6, ...opt('serverDuid', serverDuid) } };
}

function opt<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}

/** The file dnsmasq would write for these leases (tests, benchmarks). */
export function formatDnsmasqLeases(f: DnsmasqLeaseFile): string {
  const out: string[] = [];
  for (const l of f.v4) out.push(`${l.expires} ${l.hwaddr} ${l.address} ${l.hostname ?? '*'} ${l.clientId ?? '*'}`);
  if (f.serverDuid !== undefined) {
    out.push(`duid ${f.serverDuid}`);
    for (const l of f.v6) out.push(`${l.expires} ${l.temporary ? 'T' : ''}${l.iaid} ${l.address} ${l.hostname ?? '*'} ${l.clientDuid ?? '*'}`);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/** Leases still valid at `nowSec` (expiry 0 = infinite). */
export function activeLeaseCount(f: DnsmasqLeaseFile, nowSec = Math.floor(Date.now() / 1000)): number {
  const live = (e: number) => e === 0 || e > nowSec;
  return f.v4.filter((l) => live(l.expires)).length + f.v6.filter((l) => live(l.expires)).length;
}
