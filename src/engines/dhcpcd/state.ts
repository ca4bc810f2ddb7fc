// dhcpcd's state directory (its compile-time /var/lib/dhcpcd, which routerd
// bind-mounts from prefixDelegationStateDir()): `duid` (text, hex bytes) and
// `<iface>.lease6` (the server's last Reply, verbatim; its mtime is when it was
// received, which dhcpcd uses to age the lifetimes on restart).
import { Dhcp6Option, Dhcp6Type, delegatedPrefixes, hexColons, option, parseDhcp6Message, type DelegatedPrefix } from './dhcp6.ts';

const DUID_TEXT = /^[0-9a-f]{2}(?::[0-9a-f]{2}){3,129}\n?$/i;

export interface Lease6File {
  readonly file: string;
  readonly ifname: string;
  readonly clientDuid?: string;
  readonly serverDuid?: string;
  readonly prefixes: readonly DelegatedPrefix[];
}

export interface DhcpcdState {
  readonly duid?: string;
  readonly leases: readonly Lease6File[];
}

export type DhcpcdStateParse = { readonly ok: true; readonly state: DhcpcdState } | { readonly ok: false; readonly error: string };

export function parseDuidFile(text: string): string | undefined {
  return DUID_TEXT.test(text) ? text.trim().toLowerCase() : undefined;
}

export function parseLease6(file: string, data: Buffer): { ok: true; lease: Lease6File } | { ok: false; error: string } {
  const m = parseDhcp6Message(data);
  if (!m.ok) return { ok: false, error: `${file}: ${m.error}` };
  if (m.message.type !== Dhcp6Type.Reply) return { ok: false, error: `${file}: message type ${m.message.type}, want a Reply (7)` };
  const pd = delegatedPrefixes(m.message);
  if (pd.errors.length) return { ok: false, error: `${file}: ${pd.errors[0]}` };
  const client = option(m.message, Dhcp6Option.ClientId);
  const server = option(m.message, Dhcp6Option.ServerId);
  if (!server) return { ok: false, error: `${file}: no server identifier` };
  if (!m.message.options.some((o) => o.code === Dhcp6Option.IaPd || o.code === Dhcp6Option.IaNa)) return { ok: false, error: `${file}: no IA_PD or IA_NA (truncated?)` };
  return {
    ok: true,
    lease: {
      file,
      ifname: file.replace(/\.lease6$/, ''),
      ...(client ? { clientDuid: hexColons(client) } : {}),
      serverDuid: hexColons(server),
      prefixes: pd.items,
    },
  };
}

/** Validate the files of a state directory (name → content). Files other than duid and *.lease6 pass unchecked. */
export function parseDhcpcdState(files: ReadonlyMap<string, Buffer>): DhcpcdStateParse {
  let duid: string | undefined;
  const leases: Lease6File[] = [];
  for (const [name, data] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    if (name === 'duid') {
      duid = parseDuidFile(data.toString('latin1'));
      if (duid === undefined) return { ok: false, error: `duid: "${data.toString('latin1').slice(0, 40).trim()}" is not a DUID (hex bytes)` };
    } else if (name.endsWith('.lease6')) {
      const l = parseLease6(name, data);
      if (!l.ok) return l;
      leases.push(l.lease);
    }
  }
  return { ok: true, state: { ...(duid ? { duid } : {}), leases } };
}
