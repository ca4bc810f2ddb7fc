// keepalived as a supervised child: its config rendered into the run dir, its
// pid files there too, role changes read from notify_fifo (not by polling
// addresses). keepalived itself sends the gratuitous ARPs / unsolicited NAs for
// the VIP and the excluded (extra) addresses on takeover.
import { openSync } from 'node:fs';
import { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { keepalivedConfPath, keepalivedDir, keepalivedFifoPath, type NodePaths } from '../../api/paths.ts';
import type { Host } from '../../host/host.ts';
import { ConfiguredDaemon, type ProcessTable, type SupervisedProcess } from '../process.ts';
import { parseNotifyLine, type NotifyEvent } from './notify.ts';

export interface KeepalivedEvents {
  onNotify(e: NotifyEvent): void;
  onExit(info: { code: number | null; signal: string | null; restarts: number }): void;
}

/** Opens the FIFO read-write so it never reports EOF while keepalived restarts. */
export type FifoOpener = (path: string) => Promise<Readable>;

export const openFifo: FifoOpener = async (path) => {
  // A raw fd (not a FileHandle, which closes itself when garbage collected); the
  // socket owns it and closes it on destroy.
  const fd = openSync(path, 'r+');
  return new Socket({ fd, readable: true, writable: false });
};

export class KeepalivedEngine extends ConfiguredDaemon {
  private fifo: Readable | undefined;
  private readonly fifoPath: string;

  constructor(
    host: Host,
    paths: NodePaths,
    private readonly events: KeepalivedEvents,
    private readonly opener: FifoOpener = openFifo,
    procs?: ProcessTable,
  ) {
    const dir = keepalivedDir(paths);
    const confArg = `--use-file=${keepalivedConfPath(paths)}`;
    super(
      host,
      keepalivedConfPath(paths),
      {
        name: 'keepalived',
        argv: [
          'keepalived',
          '--dont-fork',
          '--log-console',
          '--log-detail',
          '--no-syslog',
          '--vrrp',
          confArg,
          `--pid=${join(dir, 'keepalived.pid')}`,
          `--vrrp_pid=${join(dir, 'vrrp.pid')}`,
        ],
        pidFile: join(dir, 'keepalived.pid'),
        logFile: join(dir, 'keepalived.log'),
        owns: (cmd) => cmd.some((a) => a.endsWith('keepalived')) && cmd.includes(confArg),
        checkArgv: (candidate) => ['keepalived', '--config-test', `--use-file=${candidate}`],
      },
      (info) => events.onExit(info),
      procs,
    );
    this.fifoPath = keepalivedFifoPath(paths);
  }

  /**
   * Write the config (if it changed), make sure keepalived runs, and reload it
   * (SIGHUP) when it was already running with an older config.
   */
  async apply(confText: string): Promise<{ configChanged: boolean; outcome: Awaited<ReturnType<SupervisedProcess['ensure']>> | 'reloaded' }> {
    const configChanged = await this.writeConfig(confText);
    await this.ensureFifo();
    const wasRunning = this.proc.running;
    const outcome = await this.proc.ensure();
    if ((outcome === 'running' || outcome === 'adopted') && configChanged && (wasRunning || outcome === 'adopted')) {
      this.proc.signal('SIGHUP');
      return { configChanged, outcome: 'reloaded' };
    }
    return { configChanged, outcome };
  }

  override async stop(keepRunning: boolean): Promise<void> {
    await super.stop(keepRunning);
    this.fifo?.destroy();
    this.fifo = undefined;
  }

  private async ensureFifo(): Promise<void> {
    if (this.fifo) return;
    if (!(await this.host.exists(this.fifoPath))) {
      await this.host.mkdirp(dirname(this.fifoPath));
      const r = await this.host.run(['mkfifo', '-m', '0600', this.fifoPath]);
      if (r.code !== 0) throw new Error(`mkfifo ${this.fifoPath}: ${r.stderr.trim()}`);
    }
    const stream = await this.opener(this.fifoPath);
    let buf = '';
    stream.on('data', (chunk: Buffer | string) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const e = parseNotifyLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (e) this.events.onNotify(e);
      }
    });
    stream.on('error', () => {
      this.fifo = undefined;
    });
    this.fifo = stream;
  }
}
