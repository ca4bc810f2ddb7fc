import { spawn as spawnChild } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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
    const input = opts.stdin === undefined ? undefined : await stdinFile(opts.stdin);
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
      const child = spawnChild(full[0]!, full.slice(1), {
        stdio: [stdinFd ?? 'ignore', 'pipe', 'pipe'],
        env: opts.env ? { ...process.env, ...opts.env } : process.env,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outBytes = 0;
      let errBytes = 0;
      let truncated = false;
      let timedOut = false;
      let spawnError: Error | undefined;
      child.stdout!.on('data', (b: Buffer) => {
        if (outBytes + b.length > maxOut) {
          truncated = true;
          return;
        }
        outBytes += b.length;
        out.push(b);
      });
      child.stderr!.on('data', (b: Buffer) => {
        if (errBytes < MAX_STDERR) {
          errBytes += b.length;
          err.push(b);
        }
      });
      child.on('error', (e) => {
        spawnError = e;
      });
      let killTimer: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      }, timeoutMs);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (killTimer) clearTimeout(killTimer);
        const stderr = Buffer.concat(err).toString('utf8');
        resolve({
          argv: full,
          code: spawnError ? 127 : code,
          signal: signal ?? null,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: spawnError ? `${spawnError.message}\n${stderr}` : stderr,
          timedOut,
          truncated,
          durationMs: Math.round(performance.now() - started),
        });
      });
    });
  }

  spawn(argv: readonly string[], opts: SpawnOptions = {}): ChildHandle {
    // Streaming stdin is a socketpair (Node's child stdio): fine for ssh, keepalived
    // and the like, but tools that open /dev/stdin by path need run()'s file.
    const full = [...this.prefix, ...argv];
    const logFd = opts.logFile === undefined ? undefined : openLog(opts.logFile);
    const child = spawnChild(full[0]!, full.slice(1), {
      stdio: [opts.stdin ?? 'ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      detached: opts.detached ?? false,
    });
    if (logFd !== undefined) closeSync(logFd);
    if (opts.detached) child.unref();
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.on('error', () => resolve({ code: 127, signal: null }));
      child.on('exit', (code, signal) => resolve({ code, signal: signal ?? null }));
    });
    child.stdin?.on('error', () => undefined);
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
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    const fh = await open(tmp, 'w', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
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
