// FakeHost: scripted command outputs and an in-memory file system, recording
// every argv and stdin so tests can compare the exact commands issued.
import { PassThrough } from 'node:stream';
import type { ChildHandle, Host, RunOptions, RunResult, SpawnOptions } from './host.ts';

export interface FakeReply {
  readonly code?: number;
  readonly stdout?: string;
  readonly stderr?: string;
}

type Matcher = readonly string[] | ((argv: readonly string[]) => boolean);
type Responder = FakeReply | ((argv: readonly string[], stdin: string | undefined) => FakeReply);

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

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const stdin = opts.stdin === undefined ? undefined : opts.stdin.toString();
    this.calls.push({ argv: [...argv], stdin });
    const rule = this.rules.find((r) =>
      typeof r.match === 'function' ? r.match(argv) : r.match.every((a, i) => argv[i] === a),
    );
    const reply = rule ? (typeof rule.reply === 'function' ? rule.reply(argv, stdin) : rule.reply) : this.fallback;
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

  spawn(argv: readonly string[], _opts: SpawnOptions = {}): ChildHandle {
    this.spawned.push({ argv: [...argv], stdin: undefined });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let resolveExit: (v: { code: number | null; signal: string | null }) => void = () => undefined;
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => (resolveExit = r));
    const rule = this.spawnRules.find((r) => (typeof r.match === 'function' ? r.match(argv) : r.match.every((a, i) => argv[i] === a)));
    if (rule) {
      const reply = typeof rule.reply === 'function' ? rule.reply(argv, undefined) : rule.reply;
      setImmediate(() => {
        stdout.end(reply.stdout ?? '');
        stderr.end(reply.stderr ?? '');
        resolveExit({ code: reply.code ?? 0, signal: null });
      });
    }
    return {
      pid: 100000 + this.spawned.length,
      argv: [...argv],
      stdout,
      stderr,
      stdin: new PassThrough(),
      exited,
      kill: (signal = 'SIGTERM') => {
        stdout.end();
        stderr.end();
        resolveExit({ code: null, signal });
      },
    };
  }

  /** The argv of every run() call, joined with spaces, for compact assertions. */
  commandLines(): string[] {
    return this.calls.map((c) => c.argv.join(' '));
  }

  async readFile(path: string): Promise<string | undefined> {
    return this.files.get(path);
  }

  async writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
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
