// The Host is the only door to the machine: every command routerd runs and every
// file it writes goes through it, so unit tests can swap in a FakeHost and compare
// the exact argv issued (no root, no kernel).
import type { Readable } from 'node:stream';

export interface RunOptions {
  /** Bulk data for the child's stdin; never put data into argv meant for a shell. */
  readonly stdin?: string | Buffer;
  /** Kill the child (SIGTERM, then SIGKILL) after this long. Default 30 s. */
  readonly timeoutMs?: number;
  readonly env?: Readonly<Record<string, string>>;
  /** Cap on captured stdout bytes; the rest is discarded and `truncated` set. */
  readonly maxOutputBytes?: number;
}

export interface RunResult {
  readonly argv: readonly string[];
  /** Exit code, or null when killed by a signal. */
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly truncated: boolean;
  readonly durationMs: number;
}

export interface SpawnOptions {
  readonly env?: Readonly<Record<string, string>>;
  /** Pipe stdin (default: ignore). */
  readonly stdin?: 'pipe' | 'ignore';
  /**
   * Append stdout and stderr to this file instead of piping them, so the child
   * never writes into a pipe that dies with routerd.
   */
  readonly logFile?: string;
  /** Own session and process group, not waited for: the child outlives routerd. */
  readonly detached?: boolean;
}

/** A long-running child: a supervised daemon, an event stream, an SSH master. */
export interface ChildHandle {
  readonly pid: number | undefined;
  readonly argv: readonly string[];
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly stdin: NodeJS.WritableStream | null;
  /** Resolves once the child has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/** How the supervisor looks at processes it did not spawn itself. */
export interface ProcessTable {
  alive(pid: number): boolean;
  cmdline(pid: number): Promise<string[] | undefined>;
  kill(pid: number, signal: NodeJS.Signals): void;
}

export interface Host {
  /** A short description for logs: "local", "netns rt-123-ra". */
  readonly description: string;
  /** The host's processes, when it models them (FakeHost); else the real process table. */
  readonly processes?: ProcessTable;
  run(argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  spawn(argv: readonly string[], opts?: SpawnOptions): ChildHandle;
  readFile(path: string): Promise<string | undefined>;
  /** Write via a temporary name and rename, so readers never see half a file. */
  writeFileAtomic(path: string, data: string | Buffer, mode?: number): Promise<void>;
  mkdirp(path: string, mode?: number): Promise<void>;
  remove(path: string): Promise<void>;
  exists(path: string): Promise<boolean>;
}

/** A command that exited non-zero, timed out or was killed. */
export class CommandError extends Error {
  readonly code = 'RD_E_COMMAND_FAILED';
  constructor(readonly result: RunResult) {
    super(describeFailure(result));
    this.name = 'CommandError';
  }
}

export function describeFailure(r: RunResult): string {
  const what = r.timedOut
    ? `timed out after ${r.durationMs} ms`
    : r.code === null
      ? `killed by ${r.signal ?? 'signal'}`
      : `exited ${r.code}`;
  const err = firstLines(r.stderr, 3);
  return `${r.argv[0] ?? '?'} ${what}${err ? `: ${err}` : ''}`;
}

export function firstLines(text: string, n: number): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .slice(0, n)
    .join(' | ');
}

/** Run and throw CommandError unless the command exited 0. */
export async function runChecked(host: Host, argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
  const r = await host.run(argv, opts);
  if (r.code !== 0 || r.timedOut) throw new CommandError(r);
  return r;
}
