// --listen HOST:PORT for the TCP status API. The API has no authentication
// (docs/api.md): by default only loopback addresses are accepted, and an empty
// host (":9556", which Node reads as every interface) or a missing port
// ("9555") is an error, never a guess.
import { isIPv4, isIPv6 } from 'node:net';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  return host === '::1';
}

/** Parse HOST:PORT or [V6]:PORT; a string result is the error message. */
export function parseListen(text: string, allowRemote: boolean): ListenAddress | string {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) {
    if (/^\d+$/.test(text)) return `--listen "${text}" has no host; write HOST:PORT, e.g. 127.0.0.1:${text}`;
    if (isIPv6(text)) return `--listen "${text}" has no port; write an IPv6 address in brackets, e.g. [${text}]:9555`;
    return `--listen "${text}" is not HOST:PORT (e.g. 127.0.0.1:9555 or [::1]:9555)`;
  }
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (host === '') return `--listen "${text}" has no host, which would listen on every interface; write 127.0.0.1:${m[3]} (or 0.0.0.0:${m[3]} with --listen-allow-remote)`;
  if (port < 1 || port > 65535) return `--listen "${text}": port ${port} is outside 1-65535`;
  if (host !== 'localhost' && !isIPv4(host) && !isIPv6(host)) return `--listen "${text}": the host must be an IP address or localhost, not a name to resolve`;
  if (m[1] !== undefined && !isIPv6(host)) return `--listen "${text}": only IPv6 addresses go in brackets`;
  if (!allowRemote && !isLoopback(host))
    return `--listen "${text}" is not a loopback address; the TCP API has no authentication (docs/api.md): add --listen-allow-remote to serve it on ${host} anyway`;
  return { host, port };
}

/** Limits on the TCP API: whoever reaches the port can hold at most this much. */
export const TCP_LIMITS = {
  maxConnections: 32,
  /** Whole request, headers included. */
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 5_000,
  keepAliveTimeoutMs: 5_000,
  /** An idle socket is closed after this long. */
  socketTimeoutMs: 15_000,
  maxHeadersCount: 50,
} as const;
