// FakeHost: scripted command outputs, an in-memory file system and a process
// table, recording every argv and stdin so tests can compare the exact
// commands issued. FakeKernel (kernel/fake.ts) adds nftables, conntrack and
// links that commands change.
import { PassThrough } from 'node:stream';
import type { ChildHandle, Host, ProcessTable, RunOptions, RunResult, SpawnOptions } from './host.ts';

export interface FakeReply {
  readonly code?: number;
  readonly stdout?: string;
  readonly stderr?: string;
}

type Matcher = readonly string[] | ((argv: readonly string[]) => boolean);
/** A talking child's ends, as its fake sees them. */
export interface SessionIo {
  readonly argv: readonly string[];
  readonly stdin: PassThrough;
  readonly stdout: PassThrough;
  readonly stderr: PassThrough;
  exit(code: number): void;
}
type SessionServer = (io: SessionIo) => void;

function matches(match: Matcher, argv: readonly string[]): boolean {
  return typeof match === 'function' ? match(argv) : match.every((a, i) => argv[i] === a);
}

type Responder = FakeReply | ((argv: readonly string[], stdin: string | undefined) => FakeReply | Promise<FakeReply>);

export interface RecordedCall {
  readonly argv: readonly string[];
  readonly stdin: string | undefined;
}

export class FakeHost implements Host {
  readonly description = 'fake';
  readonly calls: RecordedCall[] = [];
  readonly spawned: RecordedCall[] = [];
  readonly files = new Map<string, string>();
  private readonly rules: { match: Matcher; reply: Responder }[] = [];
  private readonly spawnRules: { match: Matcher; reply: Responder }[] = [];
  private readonly sessionRules: { match: Matcher; serve: SessionServer }[] = [];
  /** Reply for commands no rule matches; by default they fail loudly. */
  fallback: FakeReply = { code: 127, stderr: 'FakeHost: no reply scripted' };

  /** Script a reply for argv starting with `match` (prefix), or matching a predicate. Later rules win. */
  on(match: Matcher, reply: Responder): this {
    this.rules.unshift({ match, reply });
    return this;
  }

  /** Script a spawned child that prints its reply and exits (unmatched children run until killed). */
  onSpawn(match: Matcher, reply: Responder): this {
    this.spawnRules.unshift({ match, reply });
    return this;
  }

  /** Script a spawned child that talks: `serve` reads its stdin and writes its stdout until it calls exit (a long-lived ssh session). */
  onSpawnSession(match: Matcher, serve: SessionServer): this {
    this.sessionRules.unshift({ match, serve });
    return this;
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const stdin = opts.stdin === undefined ? undefined : opts.stdin.toString();
    this.calls.push({ argv: [...argv], stdin });
    const rule = this.rules.find((r) => matches(r.match, argv));
    const reply = rule ? await (typeof rule.reply === 'function' ? rule.reply(argv, stdin) : rule.reply) : this.fallback;
    return {
      argv: [...argv],
      code: reply.code ?? 0,
      signal: null,
      stdout: reply.stdout ?? '',
      stderr: reply.stderr ?? '',
      timedOut: false,
      truncated: false,
      durationMs: 0,
    };
  }

  /** Processes spawned and not yet exited, by pid. */
  readonly running = new Map<number, { readonly argv: readonly string[]; exit(signal: string | null, code?: number | null): void }>();

  readonly processes: ProcessTable = {
    alive: (pid) => this.running.has(pid),
    cmdline: async (pid) => {
      const p = this.running.get(pid);
      return p ? [...p.argv] : undefined;
    },
    kill: (pid, signal) => this.running.get(pid)?.exit(signal),
  };

  spawn(argv: readonly string[], _opts: SpawnOptions = {}): ChildHandle {
    this.spawned.push({ argv: [...argv], stdin: undefined });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let resolveExit: (v: { code: number | null; signal: string | null }) => void = () => undefined;
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => (resolveExit = r));
    const pid = 100000 + this.spawned.length;
    const exit = (signal: string | null, code: number | null = null) => {
      if (!this.running.delete(pid)) return;
      stdout.end();
      stderr.end();
      resolveExit({ code, signal });
    };
    const stdin = new PassThrough();
    const session = this.sessionRules.find((r) => matches(r.match, argv));
    const rule = session ? undefined : this.spawnRules.find((r) => matches(r.match, argv));
    if (session) setImmediate(() => session.serve({ argv, stdin, stdout, stderr, exit: (code) => exit(null, code) }));
    if (rule) {
      // A scripted one-shot: it prints its reply and exits.
      const replied = Promise.resolve(typeof rule.reply === 'function' ? rule.reply(argv, undefined) : rule.reply);
      setImmediate(async () => {
        const reply = await replied;
        if (!this.running.delete(pid)) return;
        stdout.end(reply.stdout ?? '');
        stderr.end(reply.stderr ?? '');
        resolveExit({ code: reply.code ?? 0, signal: null });
      });
    }
    this.running.set(pid, { argv: [...argv], exit });
    return { pid, argv: [...argv], stdout, stderr, stdin, exited, kill: (signal = 'SIGTERM') => exit(signal) };
  }

  /** The argv of every process still running, joined with spaces. */
  processLines(): string[] {
    return [...this.running.values()].map((p) => p.argv.join(' '));
  }

  /** The argv of every run() call, joined with spaces, for compact assertions. */
  commandLines(): string[] {
    return this.calls.map((c) => c.argv.join(' '));
  }

  async readFile(path: string): Promise<string | undefined> {
    return this.files.get(path);
  }

  /** Paths written, in order. */
  readonly written: string[] = [];

  async writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
    this.written.push(path);
    this.files.set(path, data.toString());
  }

  async mkdirp(_path: string): Promise<void> {}

  async remove(path: string): Promise<void> {
    for (const k of [...this.files.keys()]) if (k === path || k.startsWith(`${path}/`)) this.files.delete(k);
  }

  async exists(path: string): Promise<boolean> {
    if (this.files.has(path)) return true;
    for (const k of this.files.keys()) if (k.startsWith(`${path}/`)) return true;
    return false;
  }
}
