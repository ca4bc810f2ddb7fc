// Running `routerd serve` inside a lab router, the way an operator would under
// `ip netns exec`: its own config, run dir and state dir (private per node),
// its JSON log lines collected, its status read over its unix socket.
import { fileURLToPath } from 'node:url';
import { apiGet, type ApiResource } from '../daemon/api-client.ts';
import type { ChildHandle } from '../host/host.ts';
import type { LabNode } from './topology.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const ROUTERD_BIN = `${REPO}bin/routerd`;
/** Node flags bin/routerd's shebang carries (`node bin/routerd` does not read them): the same here. */
export const ROUTERD_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--heap-growing-percent=20'];
export const ROUTERCTL_BIN = `${REPO}bin/routerctl`;
export const LAB_CONFIG_PATH = '/etc/routerd/router.yaml';
export const LAB_RUN_DIR = '/run/routerd';

export interface LogLine {
  readonly level?: string;
  readonly msg?: string;
  readonly action?: string;
  readonly resource?: string;
  readonly [k: string]: unknown;
}

export interface RouterdProcess {
  readonly pid: number | undefined;
  readonly child: ChildHandle;
  readonly logs: LogLine[];
  /** Host path of the status socket. */
  readonly socket: string;
  resource(ref: string): Promise<ApiResource | undefined>;
  /** Poll the status API until `pred` holds for the resource (bounded by timeoutMs). */
  waitFor(ref: string, pred: (r: ApiResource) => boolean, timeoutMs?: number): Promise<ApiResource>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface StartRouterdOptions {
  readonly controllers?: readonly string[];
  readonly extraArgs?: readonly string[];
  /** A command routerd runs under, exec'ing the rest (e.g. setpriv with the systemd unit's restrictions). */
  readonly wrap?: readonly string[];
  /** Echo each log line to this function (e.g. console.log under ROUTERD_E2E_VERBOSE). */
  readonly echo?: (node: string, line: string) => void;
}

export async function startRouterd(node: LabNode, opts: StartRouterdOptions = {}): Promise<RouterdProcess> {
  const argv = [
    ...(opts.wrap ?? []),
    process.execPath,
    ...ROUTERD_NODE_FLAGS,
    ROUTERD_BIN,
    'serve',
    '--config',
    LAB_CONFIG_PATH,
    '--node',
    node.name,
    '--resync',
    '2',
    ...(opts.controllers ? ['--controllers', opts.controllers.join(',')] : []),
    ...(opts.extraArgs ?? []),
  ];
  const child = node.host.spawn(argv);
  const logs: LogLine[] = [];
  let buf = '';
  child.stdout?.on('data', (c: Buffer) => {
    buf += c.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      opts.echo?.(node.name, line);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ msg: line });
      }
    }
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
    opts.echo?.(node.name, `stderr: ${c.toString().trimEnd()}`);
  });
  const socket = node.host.backingPath(`${LAB_RUN_DIR}/routerd.sock`) ?? `${LAB_RUN_DIR}/routerd.sock`;
  const resource = async (ref: string) => {
    try {
      const r = await apiGet<ApiResource>(socket, `/api/v1/resources/${ref}`, 2000);
      return r.status === 200 ? r.body : undefined;
    } catch {
      return undefined;
    }
  };
  // Up when the socket answers.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const exited = await Promise.race([child.exited, new Promise<undefined>((r) => setTimeout(r, 100, undefined))]);
    if (exited) throw new Error(`routerd on ${node.name} exited (${exited.code ?? exited.signal}): ${stderr.trim() || logs.map((l) => l.msg).join(' | ')}`);
    try {
      if ((await apiGet(socket, '/healthz', 500)).status === 200) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`routerd on ${node.name} did not come up: ${stderr.trim()}`);
  }
  return {
    pid: child.pid,
    child,
    logs,
    socket,
    resource,
    async waitFor(ref, pred, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      let last: ApiResource | undefined;
      while (Date.now() < end) {
        last = await resource(ref);
        if (last && pred(last)) return last;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${node.name}: ${ref} did not reach the expected state in ${timeoutMs} ms; last: ${JSON.stringify(last?.status)}`);
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await child.exited;
      clearTimeout(t);
    },
  };
}

/** PID of the keepalived a router's routerd supervises (from its pid file). */
export async function keepalivedPid(node: LabNode): Promise<number | undefined> {
  const text = await node.host.readFile(`${LAB_RUN_DIR}/keepalived/keepalived.pid`);
  const pid = text ? Number.parseInt(text.trim(), 10) : NaN;
  return Number.isInteger(pid) ? pid : undefined;
}

/**
 * Kill a router's keepalived as a crash would: the VRRP child first, then the
 * parent, by PID. Killing only the parent (the pid-file PID) lets the child
 * notice and resign with priority-0 adverts, a graceful handover that hides
 * how long detecting a dead master takes (bench/failover.ts measured both).
 */
export async function killKeepalived(node: LabNode): Promise<void> {
  const child = await node.host.readFile(`${LAB_RUN_DIR}/keepalived/vrrp.pid`);
  const pids = [child, await node.host.readFile(`${LAB_RUN_DIR}/keepalived/keepalived.pid`)]
    .map((t) => (t ? Number.parseInt(t.trim(), 10) : NaN))
    .filter((p) => Number.isInteger(p) && p > 1);
  for (const pid of pids)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
}

/**
 * Kill the conntrackd a router's routerd supervises for a NAT44SessionSync in
 * mode conntrackd, as a crash would (by the PID routerd wrote). No pid file: nothing to do.
 */
export async function killConntrackd(node: LabNode, resourceName: string): Promise<void> {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(resourceName)) throw new TypeError(`invalid resource name ${JSON.stringify(resourceName)}`);
  const text = await node.host.readFile(`${LAB_RUN_DIR}/conntrackd/${resourceName}.pid`);
  const pid = text ? Number.parseInt(text.trim(), 10) : NaN;
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}
