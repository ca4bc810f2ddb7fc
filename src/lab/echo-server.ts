// TCP and UDP echo server on one port, run inside a lab node:
//   node --import tsx src/lab/echo-server.ts --port N [--max-lifetime-ms MS] [--stdin-lifeline]
// Prints one JSON line {"event":"listening",...} once both sockets are bound;
// on SIGUSR2 a {"event":"stats",...} line; exits on SIGTERM/SIGINT, when its
// lifetime is up, or (with --stdin-lifeline) when its stdin closes, i.e. when
// the process that started it is gone.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'max-lifetime-ms': { type: 'string', default: String(30 * 60_000) },
    'stdin-lifeline': { type: 'boolean', default: false },
  },
  strict: true,
});

const port = Number(values.port);
const maxLifetimeMs = Number(values['max-lifetime-ms']);
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`--port must be 1-65535, got ${values.port ?? '(none)'}`);
if (!Number.isFinite(maxLifetimeMs) || maxLifetimeMs <= 0) fail('--max-lifetime-ms must be a positive number');

const stats = { tcpConnections: 0, tcpOpen: 0, tcpBytes: 0, udpDatagrams: 0, udpBytes: 0 };
const sockets = new Set<Socket>();

const tcp = createServer((sock) => {
  stats.tcpConnections++;
  stats.tcpOpen++;
  sockets.add(sock);
  sock.setNoDelay(true);
  sock.on('data', (b: Buffer) => {
    stats.tcpBytes += b.length;
    sock.write(b);
  });
  sock.on('error', () => undefined);
  sock.on('close', () => {
    stats.tcpOpen--;
    sockets.delete(sock);
  });
});
tcp.maxConnections = 20_000;

const udp = createSocket({ type: 'udp6', ipv6Only: false });
udp.on('message', (msg, rinfo) => {
  stats.udpDatagrams++;
  stats.udpBytes += msg.length;
  udp.send(msg, rinfo.port, rinfo.address);
});
udp.on('error', (e) => fail(`udp: ${e.message}`));
tcp.on('error', (e) => fail(`tcp: ${e.message}`));

let bound = 0;
const onBound = (): void => {
  if (++bound === 2) emit({ event: 'listening', port, pid: process.pid });
};
tcp.listen({ port, host: '::', ipv6Only: false, backlog: 4096 }, onBound);
udp.bind({ port, address: '::' }, onBound);

const lifetime = setTimeout(() => shutdown('lifetime'), maxLifetimeMs);
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGUSR2', () => emit({ event: 'stats', ...stats }));
if (values['stdin-lifeline']) {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}

let shuttingDown = false;
function shutdown(reason: string): void {
  if (shuttingDown) return;
  shuttingDown = true;
  clearTimeout(lifetime);
  for (const s of sockets) s.destroy();
  tcp.close();
  udp.close();
  emit({ event: 'exit', reason, ...stats }, () => process.exit(0));
}

function emit(obj: Record<string, unknown>, then?: () => void): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`, then);
}

function fail(msg: string): never {
  process.stderr.write(`echo-server: ${msg}\n`);
  process.exit(2);
}
