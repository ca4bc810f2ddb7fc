// DHCPv6 messages (RFC 8415 §8, §21): the parser of dhcpcd's `<iface>.lease6`
// files, which hold the server's last Reply verbatim, and an encoder for test
// probes. Parsing is strict: the options must tile the message exactly, so a
// truncated or foreign file is rejected rather than half read.

export const Dhcp6Type = { Solicit: 1, Advertise: 2, Request: 3, Confirm: 4, Renew: 5, Rebind: 6, Reply: 7, Release: 8 } as const;

export const Dhcp6Option = {
  ClientId: 1,
  ServerId: 2,
  IaNa: 3,
  IaAddr: 5,
  Oro: 6,
  ElapsedTime: 8,
  StatusCode: 13,
  IaPd: 25,
  IaPrefix: 26,
} as const;

export interface Dhcp6Opt {
  readonly code: number;
  readonly data: Buffer;
}

export interface Dhcp6Message {
  readonly type: number;
  readonly transactionId: number;
  readonly options: readonly Dhcp6Opt[];
}

export type Dhcp6Parse = { readonly ok: true; readonly message: Dhcp6Message } | { readonly ok: false; readonly error: string };

function parseOptions(buf: Buffer, where: string): { ok: true; options: Dhcp6Opt[] } | { ok: false; error: string } {
  const options: Dhcp6Opt[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (pos + 4 > buf.length) return { ok: false, error: `${where}: option header cut at byte ${pos} of ${buf.length}` };
    const code = buf.readUInt16BE(pos);
    const len = buf.readUInt16BE(pos + 2);
    if (pos + 4 + len > buf.length) return { ok: false, error: `${where}: option ${code} claims ${len} bytes, ${buf.length - pos - 4} left (truncated)` };
    options.push({ code, data: buf.subarray(pos + 4, pos + 4 + len) });
    pos += 4 + len;
  }
  return { ok: true, options };
}

export function parseDhcp6Message(buf: Buffer): Dhcp6Parse {
  if (buf.length < 4) return { ok: false, error: `${buf.length} bytes, shorter than a DHCPv6 header` };
  const type = buf[0]!;
  if (type < 1 || type > 13) return { ok: false, error: `message type ${type} is not a client/server DHCPv6 message` };
  const opts = parseOptions(buf.subarray(4), 'message');
  if (!opts.ok) return opts;
  return { ok: true, message: { type, transactionId: buf.readUIntBE(1, 3), options: opts.options } };
}

export function encodeDhcp6Message(m: Dhcp6Message): Buffer {
  const head = Buffer.alloc(4);
  head[0] = m.type;
  head.writeUIntBE(m.transactionId & 0xffffff, 1, 3);
  return Buffer.concat([head, ...m.options.map(encodeOption)]);
}

export function encodeOption(o: Dhcp6Opt): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(o.code, 0);
  h.writeUInt16BE(o.data.length, 2);
  return Buffer.concat([h, o.data]);
}

export function option(m: Dhcp6Message, code: number): Buffer | undefined {
  return m.options.find((o) => o.code === code)?.data;
}

/** `00:01:00:01:...` as dnsmasq, dhcpcd and kea print DUIDs. */
export function hexColons(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function fromHexColons(s: string): Buffer {
  return Buffer.from(s.trim().split(':').map((h) => Number.parseInt(h, 16)));
}

function ipv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export interface Dhcp6StatusCode {
  readonly code: number;
  readonly message: string;
}

function statusOf(options: readonly Dhcp6Opt[]): Dhcp6StatusCode | undefined {
  const s = options.find((o) => o.code === Dhcp6Option.StatusCode)?.data;
  if (!s || s.length < 2) return undefined;
  return { code: s.readUInt16BE(0), message: s.subarray(2).toString('utf8') };
}

export interface DelegatedPrefix {
  readonly iaid: number;
  readonly t1: number;
  readonly t2: number;
  readonly prefix: string;
  readonly prefixLength: number;
  readonly preferredLifetime: number;
  readonly validLifetime: number;
}

export interface LeasedAddress {
  readonly iaid: number;
  readonly t1: number;
  readonly t2: number;
  readonly address: string;
  readonly preferredLifetime: number;
  readonly validLifetime: number;
}

export interface IaParse<T> {
  readonly items: T[];
  readonly errors: string[];
  /** Status codes carried in the IAs (e.g. NoBinding). */
  readonly statuses: Dhcp6StatusCode[];
}

/**
 * Each IA of one type (IA_PD, IA_NA) → its status and the entries of one
 * sub-option (IAPREFIX, IAADDR) at least `min` bytes long, built by `build`.
 */
function iaEntries<T>(
  m: Dhcp6Message,
  ia: { readonly code: number; readonly name: string },
  entry: { readonly code: number; readonly name: string; readonly min: number },
  build: (data: Buffer, iaid: number, t1: number, t2: number) => T,
): IaParse<T> {
  const items: T[] = [];
  const errors: string[] = [];
  const statuses: Dhcp6StatusCode[] = [];
  for (const o of m.options.filter((x) => x.code === ia.code)) {
    if (o.data.length < 12) {
      errors.push(`${ia.name} of ${o.data.length} bytes`);
      continue;
    }
    const [iaid, t1, t2] = [o.data.readUInt32BE(0), o.data.readUInt32BE(4), o.data.readUInt32BE(8)];
    const sub = parseOptions(o.data.subarray(12), `${ia.name} ${iaid}`);
    if (!sub.ok) {
      errors.push(sub.error);
      continue;
    }
    const st = statusOf(sub.options);
    if (st) statuses.push(st);
    for (const e of sub.options.filter((x) => x.code === entry.code)) {
      if (e.data.length < entry.min) errors.push(`${entry.name} of ${e.data.length} bytes in ${ia.name} ${iaid}`);
      else items.push(build(e.data, iaid, t1, t2));
    }
  }
  return { items, errors, statuses };
}

/** IA_PD → IAPREFIX entries (RFC 8415 §21.21, §21.22). */
export function delegatedPrefixes(m: Dhcp6Message): IaParse<DelegatedPrefix> {
  return iaEntries(m, { code: Dhcp6Option.IaPd, name: 'IA_PD' }, { code: Dhcp6Option.IaPrefix, name: 'IAPREFIX', min: 25 }, (d, iaid, t1, t2) => ({
    iaid,
    t1,
    t2,
    preferredLifetime: d.readUInt32BE(0),
    validLifetime: d.readUInt32BE(4),
    prefixLength: d[8]!,
    prefix: ipv6(d.subarray(9, 25)),
  }));
}

/** IA_NA → IAADDR entries (RFC 8415 §21.4, §21.6). */
export function leasedAddresses(m: Dhcp6Message): IaParse<LeasedAddress> {
  return iaEntries(m, { code: Dhcp6Option.IaNa, name: 'IA_NA' }, { code: Dhcp6Option.IaAddr, name: 'IAADDR', min: 24 }, (d, iaid, t1, t2) => ({
    iaid,
    t1,
    t2,
    address: ipv6(d.subarray(0, 16)),
    preferredLifetime: d.readUInt32BE(16),
    validLifetime: d.readUInt32BE(20),
  }));
}

/** The top-level status code of a message, if any (e.g. UseMulticast, NoBinding). */
export function messageStatus(m: Dhcp6Message): Dhcp6StatusCode | undefined {
  return statusOf(m.options);
}
