import { spawn as spawnChild } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import type { ChildHandle, Host, RunOptions, RunResult, SpawnOptions } from './host.ts';

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_STDOUT = 256 * 1024 * 1024;
const MAX_STDERR = 1024 * 1024;
const KILL_GRACE_MS = 2_000;

export interface LocalHostOptions {
  /** Run every command inside this network namespace (`ip netns exec NS ...`). */
  readonly netns?: string;
}

/** Runs argv arrays on this machine with spawn (never a shell). */
export class LocalHost implements Host {
  readonly description: string;
  private readonly prefix: readonly string[];

  constructor(opts: LocalHostOptions = {}) {
    this.prefix = opts.netns ? ['ip', 'netns', 'exec', opts.netns] : [];
    this.description = opts.netns ? `netns ${opts.netns}` : 'local';
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    let input: FileHandle | undefined;
    try {
      input = opts.stdin === undefined ? undefined : await stdinFile(opts.stdin);
    } catch (e) {
      const full = [...this.prefix, ...argv];
      return { argv: full, code: 127, signal: null, stdout: '', stderr: `${spawnFailure(full[0]!, e)} (preparing stdin)\n`, timedOut: false, truncated: false, durationMs: 0 };
    }
    try {
      return await this.runWith(argv, opts, input?.fd);
    } finally {
      await input?.close();
    }
  }

  private runWith(argv: readonly string[], opts: RunOptions, stdinFd: number | undefined): Promise<RunResult> {
    const full = [...this.prefix, ...argv];
    const started = performance.now();
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxOut = opts.maxOutputBytes ?? DEFAULT_MAX_STDOUT;
    return new Promise((resolve) => {
      const result = (code: number | null, signal: string | null, stdout: string, stderr: string, timedOut: boolean, truncated: boolean): RunResult => ({
        argv: full,
        code,
        signal,
        stdout,
        stderr,
        timedOut,
        truncated,
        durationMs: Math.round(performance.now() - started),
      });
      // spawn() itself throws for some failures (EMFILE on the pipes, EAGAIN,
      // bad arguments) and reports others as an 'error' event (ENOENT): both
      // become a result with code 127, never an exception or an unhandled event.
      let child: ReturnType<typeof spawnChild>;
      try {
        child = spawnChild(full[0]!, full.slice(1), {
          stdio: [stdinFd ?? 'ignore', 'pipe', 'pipe'],
          env: opts.env ? { ...process.env, ...opts.env } : process.env,
        });
      } catch (e) {
        resolve(result(127, null, '', `${spawnFailure(full[0]!, e)}\n`, false, false));
        return;
      }
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outBytes = 0;
      let errBytes = 0;
      let truncated = false;
      let timedOut = false;
      let spawnError: Error | undefined;
      let settled = false;
      // The error handler comes first: a failed spawn emits 'error' and may have no pipes.
      child.on('error', (e) => {
        spawnError ??= e;
        // 'close' does not always follow a spawn error; settle here if it will not.
        if (child.pid === undefined) setImmediate(finish, 127, null);
      });
      child.stdout?.on('data', (b: Buffer) => {
        if (outBytes + b.length > maxOut) {
          truncated = true;
          return;
        }
        outBytes += b.length;
        out.push(b);
      });
      child.stderr?.on('data', (b: Buffer) => {
        if (errBytes < MAX_STDERR) {
          errBytes += b.length;
          err.push(b);
        }
      });
      child.stdout?.on('error', () => undefined);
      child.stderr?.on('error', () => undefined);
      let killTimer: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      }, timeoutMs);
      function finish(code: number | null, signal: NodeJS.Signals | null): void {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (killTimer) clearTimeout(killTimer);
        const stderr = Buffer.concat(err).toString('utf8');
        resolve(
          result(
            spawnError ? 127 : code,
            signal ?? null,
            Buffer.concat(out).toString('utf8'),
            spawnError ? `${spawnFailure(full[0]!, spawnError)}\n${stderr}` : stderr,
            timedOut,
            truncated,
          ),
        );
      }
      child.on('close', (code, signal) => finish(code, signal));
    });
  }

  spawn(argv: readonly string[], opts: SpawnOptions = {}): ChildHandle {
    // Streaming stdin is a socketpair (Node's child stdio): fine for ssh, keepalived
    // and the like, but tools that open /dev/stdin by path need run()'s file.
    const full = [...this.prefix, ...argv];
    let logFd: number | undefined;
    let child: ReturnType<typeof spawnChild>;
    try {
      logFd = opts.logFile === undefined ? undefined : openLog(opts.logFile);
      child = spawnChild(full[0]!, full.slice(1), {
        stdio: [opts.stdin ?? 'ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
        env: opts.env ? { ...process.env, ...opts.env } : process.env,
        detached: opts.detached ?? false,
      });
    } catch (e) {
      // EMFILE, EAGAIN, an unopenable log file: a child that exited 127 at once.
      if (logFd !== undefined) closeSync(logFd);
      return failedChild(full, spawnFailure(full[0]!, e));
    }
    // Before anything else touches the child: a failed spawn emits 'error'.
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.on('error', () => resolve({ code: 127, signal: null }));
      child.on('exit', (code, signal) => resolve({ code, signal: signal ?? null }));
    });
    if (logFd !== undefined) closeSync(logFd);
    if (opts.detached) child.unref();
    child.stdin?.on('error', () => undefined);
    child.stdout?.on('error', () => undefined);
    child.stderr?.on('error', () => undefined);
    return {
      pid: child.pid,
      argv: full,
      stdout: child.stdout,
      stderr: child.stderr,
      stdin: child.stdin,
      exited,
      kill: (signal: NodeJS.Signals = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      },
    };
  }

  async readFile(path: string): Promise<string | undefined> {
    try {
      return await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
    await writeFileAtomic(path, data, mode);
  }

  async mkdirp(path: string, mode = 0o755): Promise<void> {
    await mkdir(path, { recursive: true, mode });
  }

  async remove(path: string): Promise<void> {
    await rm(path, { force: true, recursive: true });
  }

  async exists(path: string): Promise<boolean> {
    try {
      await stat(path);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * Write via a temporary name, fsync, rename, fsync the directory: readers never
 * see half a file, and after a crash the file is either the old or the new one.
 * On any error (ENOSPC, EIO) the temporary file is removed.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  // The rename is durable only once the directory entry is on disk.
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } catch (e) {
    // Some file systems refuse fsync on a directory (EINVAL); the data itself is synced.
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
  } finally {
    await dh.close();
  }
}

function spawnFailure(cmd: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return `cannot run ${cmd}: ${err.code ? `${err.code} ` : ''}${err.message ?? String(e)}`;
}

/** A ChildHandle for a process that could not be started. */
function failedChild(argv: readonly string[], message: string): ChildHandle {
  const stderr = Readable.from([Buffer.from(`${message}\n`)]);
  return {
    pid: undefined,
    argv,
    stdout: Readable.from([]),
    stderr,
    stdin: null,
    exited: Promise.resolve({ code: 127, signal: null }),
    kill: () => undefined,
  };
}

/**
 * Bulk stdin as an unlinked temporary file rather than a pipe: Node's child
 * stdio is a socketpair, and tools that open /dev/stdin by path (`conntrack -R
 * /dev/stdin`) cannot open a socket (see test/e2e/kernel-conntrack.test.ts).
 * A regular file works for every reader and never blocks on a slow child.
 */
async function stdinFile(data: string | Buffer): Promise<FileHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'routerd-stdin-'));
  const path = join(dir, 'in');
  try {
    await writeFile(path, data, { mode: 0o600 });
    // A fresh read handle starts at offset 0; the child inherits it.
    return await open(path, 'r');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function openLog(path: string): number {
  mkdirSync(dirname(path), { recursive: true });
  return openSync(path, 'a', 0o640);
}
