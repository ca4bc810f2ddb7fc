// The standby a sync pushes to, as the local FakeHost's ssh and rsync see it:
// its own FakeKernel (conntrack table) and files. ssh commands are unquoted and
// run on the peer's FakeHost; a restore session (transport/restore-session.ts)
// is served frame by frame; rsync copies the staged source into the peer's
// files. What the local host ran is still recorded by the local FakeHost.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FakeHost, type FakeReply, type SessionIo } from '../../src/host/fake.ts';
import { FakeKernel } from '../../src/kernel/fake.ts';

/** Undo transport/ssh.ts remoteCommand: words, each bare or in single quotes. */
export function unquote(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === ' ') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1);
      word = (word ?? '') + command.slice(i + 1, end);
      i = end;
    } else if (c === '\\') {
      word = (word ?? '') + command[++i]!;
    } else word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** The command a remote `sh -c SCRIPT NAME args…` wrapper (ssh-host.ts) finally runs: what follows its `--`, or its args. */
function unwrap(remote: readonly string[]): readonly string[] {
  if (remote[0] !== 'sh' || remote[1] !== '-c') return remote;
  const args = remote.slice(4);
  const dashes = args.indexOf('--');
  return dashes >= 0 ? args.slice(dashes + 1) : args;
}

export class FakePeer {
  readonly kernel = new FakeKernel();
  readonly host = this.kernel.attach(new FakeHost());
  /** Remote commands the peer ran, for assertions. */
  readonly ran: string[] = [];

  constructor(readonly address: string) {}

  private isMine(argv: readonly string[]): boolean {
    const dashes = argv.indexOf('--');
    return argv[0] === 'ssh' && dashes > 0 && argv[dashes - 1] === this.address;
  }

  /** Answer the local host's ssh and rsync to this peer. */
  attach(local: FakeHost): FakeHost {
    return local
      .on((argv) => argv[0] === 'ssh' && argv.at(-1) === this.address && argv.at(-3) === '-O', {})
      .on(
        (argv) => this.isMine(argv),
        (argv, stdin) => this.runRemote(argv, stdin),
      )
      .onSpawn(
        (argv) => this.isMine(argv),
        (argv) => this.runRemote(argv, undefined),
      )
      .onSpawnSession(
        (argv) => this.isMine(argv) && unquote(argv.at(-1)!)[3] === 'routerd-session',
        (io) => this.serveSession(io),
      )
      .onSpawn(
        (argv) => argv[0] === 'rsync' && (argv.at(-1) ?? '').replace(/^[^@]*@/, '').startsWith(`${this.address}:`),
        async (argv) => ({ stdout: `Total bytes sent: ${await this.copy(argv)}\nTotal bytes received: 0\n` }),
      );
  }

  /** Run what an ssh argv asks on the peer. */
  private async runRemote(argv: readonly string[], stdin: string | undefined): Promise<FakeReply> {
    const remote = unwrap(unquote(argv.at(-1)!));
    this.ran.push(remote.join(' '));
    const r = await this.host.run(remote, stdin === undefined ? {} : { stdin });
    return { code: r.code ?? 0, stdout: r.stdout, stderr: r.stderr };
  }

  /** rsync's copy: the staged source (a file, or a directory with a trailing slash) lands at the destination path. */
  private async copy(argv: readonly string[]): Promise<number> {
    const source = argv.at(-2)!;
    const dest = argv.at(-1)!.replace(/^[^:]*:/, '');
    const files = (await stat(source)).isDirectory() ? (await readdir(source)).map((n) => [join(source, n), join(dest, n)] as const) : [[source, dest] as const];
    let bytes = 0;
    this.ran.push(`rsync wrote ${dest}`);
    for (const [from, to] of files) {
      const data = await readFile(from, 'latin1');
      this.host.files.set(to, data);
      bytes += data.length;
    }
    return bytes;
  }

  /** The restore session: `B <nd> <nr>\n`, nd bytes of exact deletes, nr bytes of `conntrack -R` lines; a reply line each. */
  private serveSession(io: SessionIo): void {
    let buf = '';
    let busy = Promise.resolve();
    io.stdin.on('data', (b: Buffer) => {
      buf += b.toString('latin1');
      for (;;) {
        const m = /^B (\d+) (\d+)\n/.exec(buf);
        if (!m) return;
        const [nd, nr] = [Number(m[1]), Number(m[2])];
        if (buf.length < m[0].length + nd + nr) return;
        const deletes = buf.slice(m[0].length, m[0].length + nd);
        const restore = buf.slice(m[0].length + nd, m[0].length + nd + nr);
        buf = buf.slice(m[0].length + nd + nr);
        busy = busy.then(async () => {
          const missing = deletes ? deletes.trimEnd().split('\n').length : 0;
          const r = restore ? await this.host.run(['conntrack', '-R', '/dev/stdin'], { stdin: restore }) : { code: 0 };
          this.ran.push(`session batch: ${missing} delete(s), ${restore ? restore.trimEnd().split('\n').length : 0} restore line(s)`);
          io.stdout.write(`routerd-done 0 ${r.code} deleted 0 missing ${missing} failed 0\n`);
        });
      }
    });
    io.stdin.on('end', () => void busy.then(() => io.exit(0)));
  }
}
