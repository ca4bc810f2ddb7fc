// A full resync, streamed end to end: the local `conntrack -L -o extended`
// is read line by line, each selected line becomes its `-A` restore line with
// minimal parsing (kernel/conntrack-lines.ts), and every CHUNK lines go to each
// target's restore session while the dump goes on; the target applies chunk k
// while chunk k+1 crosses the wire. Memory stays at a few chunks per target
// plus the target's tuple keys; a target that falls behind pauses the dump.
//
// It replaces without emptying the target: first the target's own tuples for
// the addresses are read (one dump over ssh, kept as tuple → state and mark).
// An entry the target holds as it is (TCP ESTABLISHED, same mark: its timeout
// is days) is left alone; any other entry the target holds is deleted exactly
// (routerd-ct-delete) just before its insert in the same batch (state, mark and
// timeout are the master's again); what the target holds that the master no
// longer has is deleted at the end (pruned). The target never loses its table
// for the length of a resync, and a resync that finds nothing changed writes nothing.
import type { ChildHandle, Host } from '../../host/host.ts';
import { conntrackDumpArgv } from '../../kernel/conntrack.ts';
import { LineSplitter, restoreLineFromExtended, tupleFromExtended, unchanged } from '../../kernel/conntrack-lines.ts';
import type { SessionReply } from '../../transport/restore-session.ts';
import { SSH_CONNECT_FAILURE } from '../../transport/ssh-host.ts';
import { Reason } from '../status.ts';
import { replyFailure, sessionFailure, type TargetState } from './targets.ts';

export interface ReplaceOptions {
  readonly local: Host;
  readonly remote: (t: TargetState) => Host;
  readonly addresses: readonly string[];
  /** Only this protocol's entries (stream mode's UDP refresh). */
  readonly protocol?: 'udp';
  readonly targets: readonly TargetState[];
  /** Restore lines per batch. */
  readonly chunkLines?: number;
  /** Batches in flight per target before the dump pauses. */
  readonly maxInFlight?: number;
  readonly timeoutMs?: number;
  /**
   * Keep, per target, the tuple keys this resync wrote or pruned (TargetReplace.touched),
   * up to this many; past it (or without this option) touched stays undefined.
   */
  readonly trackTouched?: number;
}

export interface TargetReplace {
  ok: boolean;
  reason?: string;
  error?: string;
  restored: number;
  pruned: number;
  failed: number;
  /**
   * The keys whose entries this resync wrote (deleted and inserted, or inserted) or
   * pruned on the target: only events of those flows that arrived meanwhile can have
   * been overtaken by it (stream mode applies those again). Undefined: not tracked,
   * or more than trackTouched.
   */
  touched?: Set<string>;
}

export interface ReplaceResult {
  readonly startedAt: number;
  /** Selected entries read from the local table. */
  readonly entries: number;
  readonly skipped: number;
  readonly skipSample?: string;
  /** The local dump failed: nothing was pruned, and every target counts as failed. */
  readonly dumpError?: string;
  readonly targets: Map<TargetState, TargetReplace>;
}

export const CHUNK_LINES = 8192;
const FIRST_CHUNK = 1024;
/** Batches in flight per target (over its BULK_SESSIONS sessions) before the dump pauses. */
const MAX_IN_FLIGHT = 4;
const PRUNE_CHUNK = 32_768;

/** Run `argv` on `host` and feed its stdout to `onLine`; resolves with the exit code. `pause` lets the caller stop the flow. */
function readLines(
  host: Host,
  argv: readonly string[],
  onLine: (line: string) => void,
  timeoutMs: number,
  control?: (child: ChildHandle) => void,
): Promise<{ code: number | null; stderr: string; timedOut: boolean }> {
  const child = host.spawn(argv);
  const split = new LineSplitter(onLine);
  let stderr = '';
  let timedOut = false;
  child.stdout?.on('data', (b: Buffer) => split.push(b));
  child.stderr?.on('data', (b: Buffer) => {
    if (stderr.length < 4096) stderr += b.toString('utf8');
  });
  control?.(child);
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  timer.unref();
  const ended = new Promise<void>((resolve) => {
    if (!child.stdout) return resolve();
    child.stdout.on('end', () => resolve());
    child.stdout.on('close', () => resolve());
  });
  return Promise.all([child.exited, ended]).then(([info]) => {
    clearTimeout(timer);
    split.end();
    return { code: info.code, stderr: stderr.trim(), timedOut };
  });
}

/** The target's tuple keys for the addresses → TCP state and mark (its dump over ssh, read line by line). */
async function targetKeys(host: Host, addresses: readonly string[], protocol: 'udp' | undefined, timeoutMs: number): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for (const addr of addresses) {
    const r = await readLines(
      host,
      conntrackDumpArgv({ format: 'extended', family: 'ipv4', snatAddress: addr, ...(protocol ? { protocol } : {}) }),
      (line) => {
        const k = tupleFromExtended(line);
        if (k !== undefined) keys.set(k.key, k.sig);
      },
      timeoutMs,
    );
    if (r.code !== 0 || r.timedOut) {
      const err = new Error(`reading the target's table: ${r.timedOut ? 'timed out' : `exited ${r.code ?? 'on a signal'}`}${r.stderr ? `: ${r.stderr.split('\n').slice(-2).join(' | ')}` : ''}`);
      (err as Error & { exitCode?: number | null }).exitCode = r.code;
      throw err;
    }
  }
  return keys;
}

export async function streamedReplace(opts: ReplaceOptions): Promise<ReplaceResult> {
  const startedAt = Date.now();
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const chunkLines = opts.chunkLines ?? CHUNK_LINES;
  const maxInFlight = opts.maxInFlight ?? MAX_IN_FLIGHT;
  const results = new Map<TargetState, TargetReplace>();
  interface Live {
    readonly ts: TargetState;
    readonly r: TargetReplace;
    keys: Map<string, string>;
    deletes: string[];
    /** This target's restore lines of the batch being formed (entries it holds as they are are left out). */
    lines: string[];
    inFlight: number;
    readonly done: Promise<void>[];
  }
  // 1. What each target holds now.
  const live: Live[] = [];
  await Promise.all(
    opts.targets.map(async (ts) => {
      const r: TargetReplace = { ok: true, restored: 0, pruned: 0, failed: 0, ...(opts.trackTouched ? { touched: new Set<string>() } : {}) };
      results.set(ts, r);
      try {
        live.push({ ts, r, keys: await targetKeys(opts.remote(ts), opts.addresses, opts.protocol, timeoutMs), deletes: [], lines: [], inFlight: 0, done: [] });
      } catch (e) {
        const code = (e as { exitCode?: number | null }).exitCode;
        Object.assign(r, { ok: false, reason: code === SSH_CONNECT_FAILURE ? Reason.TargetUnreachable : Reason.SyncFailed, error: (e as Error).message });
      }
    }),
  );

  // 2. The local dump, chunk by chunk, into every target that answered.
  let entries = 0;
  let skipped = 0;
  let skipSample: string | undefined;
  let chunkSize = 0;
  let chunkNo = 0;
  let dump: ChildHandle | undefined;
  let paused = false;
  const touch = (l: Live, key: string): void => {
    const t = l.r.touched;
    if (!t) return;
    if (t.size >= (opts.trackTouched ?? 0)) delete l.r.touched;
    else t.add(key);
  };
  const canGo = (): boolean => live.every((x) => !x.r.ok || x.inFlight < maxInFlight);
  const settle = (l: Live, p: Promise<SessionReply>): void => {
    l.inFlight++;
    l.done.push(
      p.then(
        (reply) => {
          l.inFlight--;
          const bad = replyFailure(reply);
          l.r.failed += reply.failed;
          if (bad && l.r.ok) Object.assign(l.r, { ok: false, ...bad });
          if (paused && canGo()) {
            paused = false;
            dump?.stdout?.resume();
          }
        },
        (e: unknown) => {
          l.inFlight--;
          if (l.r.ok) Object.assign(l.r, { ok: false, ...sessionFailure(e) });
          if (paused && canGo()) {
            paused = false;
            dump?.stdout?.resume();
          }
        },
      ),
    );
  };
  const flush = (): void => {
    if (chunkSize === 0) return;
    for (const l of live) {
      if (!l.r.ok || (l.lines.length === 0 && l.deletes.length === 0)) continue;
      const deletes = l.deletes;
      const text = l.lines.length ? `${l.lines.join('\n')}\n` : '';
      l.r.restored += l.lines.length;
      l.deletes = [];
      l.lines = [];
      settle(l, l.ts.apply(l.ts.bulk(chunkNo), deletes, text));
    }
    chunkSize = 0;
    chunkNo++;
    if (!canGo()) {
      paused = true;
      dump?.stdout?.pause();
    }
  };
  let dumpError: string | undefined;
  for (const addr of opts.addresses) {
    if (!live.some((l) => l.r.ok)) break;
    const r = await readLines(
      opts.local,
      conntrackDumpArgv({ format: 'extended', family: 'ipv4', snatAddress: addr, ...(opts.protocol ? { protocol: opts.protocol } : {}) }),
      (line) => {
        const x = restoreLineFromExtended(line, addr, opts.protocol);
        if (x.kind === 'other') return;
        if (x.kind === 'skipped') {
          skipped++;
          skipSample ??= x.reason;
          return;
        }
        entries++;
        chunkSize++;
        for (const l of live) {
          const held = l.keys.get(x.key);
          if (held === undefined) l.lines.push(x.line);
          else {
            l.keys.delete(x.key);
            if (unchanged(held, x.sig)) continue;
            l.deletes.push(x.key);
            l.lines.push(x.line);
          }
          touch(l, x.key);
        }
        // The first batches are small, so the target starts restoring while the dump is young.
        if (chunkSize >= Math.min(chunkLines, FIRST_CHUNK << chunkNo)) flush();
      },
      timeoutMs,
      (child) => {
        dump = child;
        if (paused) child.stdout?.pause();
      },
    );
    dump = undefined;
    paused = false;
    if (r.code !== 0 || r.timedOut) {
      dumpError = `conntrack dump for ${addr}: ${r.timedOut ? 'timed out' : `exited ${r.code ?? 'on a signal'}`}${r.stderr ? `: ${r.stderr.split('\n').slice(-2).join(' | ')}` : ''}`;
      break;
    }
  }
  if (!dumpError) {
    flush();
    // 3. What the targets hold and the master does not.
    for (const l of live) {
      if (!l.r.ok) continue;
      const rest = [...l.keys.keys()];
      l.keys = new Map();
      for (const k of rest) touch(l, k);
      for (let i = 0; i < rest.length; i += PRUNE_CHUNK) {
        const part = rest.slice(i, i + PRUNE_CHUNK);
        settle(
          l,
          l.ts.apply(l.ts.bulk(i / PRUNE_CHUNK), part, '').then((reply) => {
            l.r.pruned += reply.deleted;
            return reply;
          }),
        );
      }
    }
  }
  for (const l of live) await Promise.all(l.done);
  if (dumpError) for (const l of live) if (l.r.ok) Object.assign(l.r, { ok: false, reason: Reason.DumpFailed, error: dumpError });
  return { startedAt, entries, skipped, ...(skipSample ? { skipSample } : {}), ...(dumpError ? { dumpError } : {}), targets: results };
}
