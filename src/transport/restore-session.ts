// A long-lived restore session on a standby: one ssh command that reads framed
// batches on stdin and applies each one, instead of one ssh exec per batch.
// `conntrack -R` parses its whole input before it applies a line (kernel/
// conntrack.ts), so it cannot itself stay open; the constant script below
// starts one per batch and returns its exit code, so the stream of batches
// crosses one connection and the standby's kernel applies batch k while batch
// k+1 is on the wire.
//
// Frame: `B <deleteBytes> <restoreBytes>\n`, then the exact-delete lines for
// routerd-ct-delete, then the `conntrack -R` lines. Reply, one line per frame,
// in order: `routerd-done <deleteCode> <restoreCode> deleted D missing M failed F`.
// Before each frame the script refuses (75, both codes) when the standby holds
// one of the SNAT addresses: it became master, and a late push must not touch
// its table (docs/handover.md). Data never reaches the script text: the
// addresses, command words and helper path are positional arguments.
import { isIP } from 'node:net';
import type { ChildHandle, Host } from '../host/host.ts';
import { TARGET_IS_MASTER } from './ssh-host.ts';
import { sshArgv, type SshConnectionOptions, type SshTarget } from './ssh.ts';

export const SESSION_SCRIPT = [
  'ct=$1; del=$2; shift 2; addrs=',
  'while [ "$1" != -- ]; do addrs="$addrs $1"; shift; done; shift',
  'while read -r verb nd nr; do',
  '  case "$verb:$nd:$nr" in B:*[!0-9:]*|B::*|B:*:) exit 2;; B:*) ;; *) exit 2;; esac',
  '  held=0; for a in $addrs; do [ -n "$(ip -o addr show to "$a")" ] && held=1; done',
  '  if [ $held = 1 ]; then head -c $((nd + nr)) >/dev/null; echo "routerd-done 75 75 deleted 0 missing 0 failed 0"; continue; fi',
  '  drc=0; sum="deleted 0 missing 0 failed 0"',
  '  if [ "$nd" -gt 0 ]; then sum=$(head -c "$nd" | { "$@" "$del"; r=$?; cat >/dev/null; exit $r; }) || drc=$?; fi',
  '  rrc=0',
  '  if [ "$nr" -gt 0 ]; then head -c "$nr" | { "$@" "$ct" -R /dev/stdin >/dev/null; r=$?; cat >/dev/null; exit $r; } || rrc=$?; fi',
  '  echo "routerd-done $drc $rrc ${sum:-none}"',
  'done',
].join('\n');

export interface SessionBatch {
  /** routerd-ct-delete lines (ct-delete.ts exactDeleteLine), newline-terminated. */
  readonly deletes?: string;
  /** `conntrack -R` lines, newline-terminated; applied after the deletes. */
  readonly restore?: string;
}

export interface SessionReply {
  /** Exit code of the delete helper (0 when there was nothing to delete); 75: the target holds the addresses. */
  readonly deleteCode: number;
  /** Exit code of `conntrack -R` (0 when there was nothing to restore); 75: the target holds the addresses. */
  readonly restoreCode: number;
  readonly deleted: number;
  readonly missing: number;
  readonly failed: number;
  /** What the session printed on stderr while this batch ran (the last few lines). */
  readonly stderr: string;
  readonly durationMs: number;
}

/** The session ended (ssh could not connect, the connection broke, a timeout): every batch in flight fails with it. */
export class SessionClosedError extends Error {
  readonly code = 'RD_E_SESSION_CLOSED';
  constructor(
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly timedOut = false,
  ) {
    super(`restore session ${timedOut ? 'timed out' : `exited ${exitCode ?? 'on a signal'}`}${stderr ? `: ${stderr}` : ''}`);
  }
}

export interface RestoreSessionOptions {
  /** SNAT addresses whose presence on the target refuses a batch. */
  readonly refuseIfHolding: readonly string[];
  /** The target's restore command (e.g. [sudo, conntrack]); its last word is conntrack, the others prefix the delete helper too. */
  readonly restoreCommand: readonly string[];
  /** Path of routerd-ct-delete on the target. */
  readonly deleteHelper: string;
  /** A batch without a reply after this long closes the session. */
  readonly timeoutMs: number;
  /** How the remote command is run; default ssh to the target (tests run it with a local sh). */
  readonly wrap?: (remote: readonly string[]) => string[];
}

interface Pending {
  readonly resolve: (r: SessionReply) => void;
  readonly reject: (e: Error) => void;
  readonly sentAt: number;
}

const REPLY = /^routerd-done (\d+) (\d+) (?:deleted (\d+) missing (\d+) failed (\d+)|.*)$/;
const STDERR_KEPT = 2048;

export class RestoreSession {
  private child: ChildHandle | undefined;
  private readonly pending: Pending[] = [];
  private drainWaiters: (() => void)[] = [];
  private stderr = '';
  private out = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly local: Host,
    private readonly target: SshTarget,
    private readonly conn: SshConnectionOptions,
    private readonly opts: RestoreSessionOptions,
  ) {}

  /** Batches sent and not answered yet. */
  get inFlight(): number {
    return this.pending.length;
  }

  /** The argv that runs the session (for tests and docs/ssh.md). */
  argv(): string[] {
    const cmd = this.opts.restoreCommand;
    const guard = this.opts.refuseIfHolding.filter((a) => isIP(a) !== 0);
    const remote = ['sh', '-c', SESSION_SCRIPT, 'routerd-session', cmd.at(-1)!, this.opts.deleteHelper, ...guard, '--', ...cmd.slice(0, -1)];
    return this.opts.wrap ? this.opts.wrap(remote) : sshArgv(this.target, remote, this.conn);
  }

  /** Queue a batch; resolves with its reply once the target applied it. */
  send(batch: SessionBatch): Promise<SessionReply> {
    const child = this.child ?? this.open();
    const deletes = batch.deletes ?? '';
    const restore = batch.restore ?? '';
    return new Promise<SessionReply>((resolve, reject) => {
      this.pending.push({ resolve, reject, sentAt: performance.now() });
      this.arm();
      child.stdin?.write(`B ${Buffer.byteLength(deletes, 'latin1')} ${Buffer.byteLength(restore, 'latin1')}\n${deletes}${restore}`, 'latin1');
    });
  }

  close(): void {
    this.fail(new SessionClosedError(null, 'closed', false));
  }

  /** Resolves once every batch sent so far has been answered (or the session failed). */
  drained(): Promise<void> {
    if (this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private wakeDrained(): void {
    if (this.pending.length > 0) return;
    for (const w of this.drainWaiters.splice(0)) w();
  }

  private open(): ChildHandle {
    const child = this.local.spawn(this.argv(), { stdin: 'pipe' });
    this.child = child;
    this.out = '';
    this.stderr = '';
    child.stdout?.on('data', (b: Buffer) => this.onStdout(b));
    child.stderr?.on('data', (b: Buffer) => {
      this.stderr = (this.stderr + b.toString('utf8')).slice(-STDERR_KEPT);
    });
    void child.exited.then((info) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.fail(new SessionClosedError(info.code, lastLines(this.stderr)));
    });
    return child;
  }

  private onStdout(b: Buffer): void {
    this.out += b.toString('latin1');
    let nl: number;
    while ((nl = this.out.indexOf('\n')) >= 0) {
      const line = this.out.slice(0, nl);
      this.out = this.out.slice(nl + 1);
      const m = REPLY.exec(line);
      const p = m ? this.pending.shift() : undefined;
      if (!m || !p) continue;
      const stderr = lastLines(this.stderr);
      this.stderr = '';
      p.resolve({
        deleteCode: Number(m[1]),
        restoreCode: Number(m[2]),
        deleted: Number(m[3] ?? 0),
        missing: Number(m[4] ?? 0),
        failed: Number(m[5] ?? 0),
        stderr,
        durationMs: Math.round(performance.now() - p.sentAt),
      });
      this.arm();
      this.wakeDrained();
    }
  }

  /** One timer for the oldest batch in flight. */
  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const oldest = this.pending[0];
    if (!oldest) return;
    const left = oldest.sentAt + this.opts.timeoutMs - performance.now();
    this.timer = setTimeout(() => this.fail(new SessionClosedError(null, lastLines(this.stderr), true)), Math.max(0, left));
    this.timer.unref();
  }

  private fail(err: SessionClosedError): void {
    const child = this.child;
    this.child = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    child?.stdin?.end();
    child?.kill('SIGTERM');
    for (const p of this.pending.splice(0)) p.reject(err);
    this.wakeDrained();
  }
}

function lastLines(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .slice(-3)
    .join(' | ');
}

export { TARGET_IS_MASTER };
