// deploy/ssh/routerd-sync-command, the forced command of the restricted sync
// account (docs/deploy.md), against the exact remote commands routerd sends:
// built by the same code the session and lease sync controllers use, and for
// rsync captured from a real rsync run through a stand-in ssh.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { targetHost } from '../../src/controllers/session-sync/controller.ts';
import { leaseSyncArgv } from '../../src/controllers/lease-sync/worker.ts';
import { FakeHost } from '../../src/host/fake.ts';
import { conntrackDeleteBySnatArgv, conntrackDumpArgv, conntrackRestoreArgv } from '../../src/kernel/conntrack.ts';
import { RestoreSession, SESSION_SCRIPT } from '../../src/transport/restore-session.ts';
import { REPO } from '../helpers/paths.ts';

const COMMAND = join(REPO, 'deploy', 'ssh', 'routerd-sync-command');

function forced(sshOriginalCommand: string): { code: number | null; argv: string; err: string } {
  const r = spawnSync(COMMAND, [], { env: { PATH: process.env.PATH, SSH_ORIGINAL_COMMAND: sshOriginalCommand, ROUTERD_SYNC_DRY_RUN: '1' }, encoding: 'utf8' });
  return { code: r.status, argv: r.stdout.trim(), err: r.stderr };
}

/** The remote command string routerd's ssh carries for `argv` run on a session sync target. */
async function sessionRemote(argv: readonly string[]): Promise<string> {
  const local = new FakeHost();
  local.fallback = { code: 0 };
  const t = { name: 'rb', host: 'rb.example', port: 22, user: 'routerd-sync', sshOptions: [], restoreCommand: ['sudo', 'conntrack'] };
  await targetHost(local, t as Parameters<typeof targetHost>[1], '/run/routerd/ssh').run(argv);
  const call = local.calls.at(-1)!.argv;
  assert.equal(call[0], 'ssh');
  assert.equal(call.at(-2), '--');
  return call.at(-1)!;
}

test('a session batch and a prune pass, and run conntrack through sudo by full path', async () => {
  const batch = forced(await sessionRemote(conntrackRestoreArgv()));
  assert.equal(batch.code, 0, batch.err);
  assert.equal(batch.argv, 'sh -c exec "$@" >/dev/null routerd-quiet sudo -n /usr/sbin/conntrack -R /dev/stdin');
  const prune = forced(await sessionRemote(conntrackDeleteBySnatArgv('198.51.100.100')));
  assert.equal(prune.code, 0, prune.err);
  assert.equal(prune.argv, 'sudo -n /usr/sbin/conntrack -D --src-nat 198.51.100.100');
  assert.equal(forced('sudo conntrack -R /dev/stdin').argv, 'sudo -n /usr/sbin/conntrack -R /dev/stdin');
});

test('a restore session and the tuple dumps of a full resync pass; the session runs the command\'s own script and helper', async () => {
  const t = { name: 'rb', host: 'rb.example', port: 22, user: 'routerd-sync', sshOptions: [], restoreCommand: ['sudo', 'conntrack'] };
  const session = new RestoreSession(new FakeHost(), t, {}, { refuseIfHolding: ['198.51.100.100', '198.51.100.101'], restoreCommand: t.restoreCommand, deleteHelper: '/opt/routerd/build/routerd-ct-delete', timeoutMs: 1000 });
  const r = forced(session.argv().at(-1)!);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.argv, `sh -c ${SESSION_SCRIPT} routerd-session /usr/sbin/conntrack /usr/local/lib/routerd/routerd-ct-delete 198.51.100.100 198.51.100.101 -- sudo -n`);
  for (const protocol of [undefined, 'udp'] as const) {
    const dump = forced(await sessionRemote(conntrackDumpArgv({ format: 'extended', family: 'ipv4', snatAddress: '198.51.100.100', ...(protocol ? { protocol } : {}) })));
    assert.equal(dump.code, 0, dump.err);
    assert.equal(dump.argv, `sudo -n /usr/sbin/conntrack -L -o extended -f ipv4${protocol ? ' -p udp' : ''} --src-nat 198.51.100.100`);
  }
  const bad = session.argv().at(-1)!.replace('198.51.100.101', '198.51.100.101;id');
  assert.equal(forced(bad).code, 126);
  assert.equal(forced(session.argv().at(-1)!.replace('-- sudo', '-- bash')).code, 126);
});

test('a lease push (rsync with --protect-args) passes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'routerd-forced-'));
  try {
    // A stand-in ssh that records its arguments, one a line.
    const fakeSsh = join(dir, 'ssh');
    writeFileSync(fakeSsh, `#!/bin/sh\nprintf '%s\\n' "$@" > '${dir}/args'\nexit 1\n`);
    chmodSync(fakeSsh, 0o755);
    writeFileSync(join(dir, 'lease'), '1 aa:bb 192.0.2.10 * *\n');
    for (const sourceKind of ['DHCPv4Server', 'DHCPv6PrefixDelegation'] as const) {
      const argv = leaseSyncArgv({ sourceKind, path: '/var/lib/routerd/dnsmasq/x.leases' }, { name: 'rb', host: 'rb.example', port: 22, user: 'routerd-sync', sshOptions: [], options: [] }, join(dir, 'lease'), '/run/routerd/ssh/ssh-config-0123456789ab');
      const e = argv.indexOf('-e');
      argv[e + 1] = fakeSsh;
      spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
      // ssh joins the words after the host with spaces: that is the remote command.
      const args = readFileSync(join(dir, 'args'), 'utf8').trimEnd().split('\n');
      const remote = args.slice(args.indexOf('rb.example') + 1).join(' ');
      assert.match(remote, /^rsync --server -s/, `${sourceKind}: ${remote}`);
      const r = forced(remote);
      assert.equal(r.code, 0, `${sourceKind}: ${remote}: ${r.err}`);
      assert.equal(r.argv, remote);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('anything else is refused with exit 126', () => {
  for (const cmd of [
    '',
    'bash',
    'id',
    'sudo conntrack -F',
    'sudo conntrack -D',
    'sudo conntrack -D --src-nat 1.2.3.4; id',
    'sudo conntrack -D --src-nat 1.2.3.4\nid',
    "sudo conntrack -D --src-nat '1.2.3.4'",
    'sudo conntrack -R /etc/shadow',
    'conntrack -R /dev/stdin',
    'rsync --server --daemon .',
    'rsync --server -s\nid',
    'rsync --server -s . /etc',
    'rsync --sender -s',
    "sh -c 'exec \"$@\" >/dev/null' routerd-quiet sudo bash",
  ]) {
    const r = forced(cmd);
    assert.equal(r.code, 126, `accepted: ${JSON.stringify(cmd)} -> ${r.argv}`);
    assert.equal(r.argv, '');
  }
});
