// One routerd per node: `routerd.lock` in the run dir holds the running
// daemon's PID, created with O_EXCL so two starts cannot both take it. A lock
// whose PID is gone (or was reused: another start time) is stale and is
// taken over; a live one makes the second daemon exit at once, naming it.
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

export class AlreadyRunningError extends Error {
  readonly code = 'RD_E_ALREADY_RUNNING';
  constructor(
    readonly pid: number,
    readonly lockPath: string,
  ) {
    super(`another routerd (pid ${pid}) is already running with this run dir (${lockPath}); stop it first or use another --run-dir`);
    this.name = 'AlreadyRunningError';
  }
}

export interface DaemonLock {
  readonly path: string;
  release(): Promise<void>;
}

export function lockPath(runDir: string): string {
  return join(runDir, 'routerd.lock');
}

/** A process's start time (clock ticks since boot, /proc/PID/stat field 22): tells a reused PID apart. */
async function startTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  // The command name (field 2) may hold spaces and parentheses: count from the last ")".
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

async function holderAlive(pid: number, started: string | undefined): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (started === undefined) return true;
  const now = await startTime(pid);
  return now === undefined || now === started;
}

export async function acquireLock(runDir: string, pid = process.pid): Promise<DaemonLock> {
  const path = lockPath(runDir);
  await mkdir(runDir, { recursive: true, mode: 0o755 });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(`${pid} ${(await startTime(pid)) ?? ''}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      return {
        path,
        async release() {
          const text = await readFile(path, 'utf8').catch(() => undefined);
          if (text?.split(' ')[0]?.trim() === String(pid)) await rm(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let text = await readFile(path, 'utf8').catch(() => '');
    // Created but not written yet: a start racing this one. Look once more.
    if (text === '') {
      await new Promise((r) => setTimeout(r, 200));
      text = await readFile(path, 'utf8').catch(() => '');
    }
    const [pidText, started] = text.trim().split(' ');
    const holder = Number.parseInt(pidText ?? '', 10);
    if (Number.isInteger(holder) && holder > 0 && (await holderAlive(holder, started || undefined))) throw new AlreadyRunningError(holder, path);
    // Stale (or half-written by a start that died): move it aside atomically so
    // only one of two racing starts removes it, then try again.
    await rename(path, `${path}.stale-${pid}`).then(
      () => rm(`${path}.stale-${pid}`, { force: true }),
      () => undefined,
    );
  }
  throw new Error(`could not take the lock ${path}`);
}
