// deploy/systemd/routerd.service as shipped, checked by systemd itself:
// `systemd-analyze verify` offline, against a root directory holding the unit,
// the system's own units (targets) and the executables it names. verify exits
// 0 even on a directive it ignores, so any output at all is a failure.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/paths.ts';
import { requireTool } from '../helpers/tools.ts';

const UNIT = join(REPO, 'deploy', 'systemd', 'routerd.service');
const unitText = readFileSync(UNIT, 'utf8');

function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}

/** Runs verify on a copy of the unit (edited by `edit`) in a throwaway root. */
function verify(edit: (text: string) => string = (t) => t): { code: number | null; output: string } {
  const root = mkdtempSync(join(tmpdir(), 'routerd-unit-'));
  try {
    const d = directives(unitText);
    for (const line of [...(d.get('ExecStart') ?? []), ...(d.get('ExecReload') ?? [])]) {
      const exe = join(root, line.split(' ')[0]!);
      mkdirSync(dirname(exe), { recursive: true });
      writeFileSync(exe, '#!/bin/sh\n');
      chmodSync(exe, 0o755);
    }
    cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    writeFileSync(join(root, 'etc/systemd/system/routerd.service'), edit(unitText));
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${root}`, 'routerd.service'], { encoding: 'utf8' });
    return { code: r.status, output: `${r.stdout}${r.stderr}`.trim() };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('systemd-analyze verify accepts routerd.service without a single warning', (t) => {
  if (!requireTool(t, 'systemd-analyze', 'systemd')) return;
  const r = verify();
  assert.equal(r.output, '', r.output);
  assert.equal(r.code, 0);
});

test('the verify check would catch a bad directive and a missing executable', (t) => {
  if (!requireTool(t, 'systemd-analyze', 'systemd')) return;
  assert.match(verify((u) => u.replace('KillMode=process', 'KillMode=bogus')).output, /kill mode/i);
  assert.notEqual(verify((u) => u.replace('/usr/local/bin/routerd serve', '/usr/local/bin/routerd-missing serve')).code, 0);
});

test('routerd.service keeps engines across restarts, reloads by SIGHUP and restarts on failure', () => {
  const d = directives(unitText);
  // KillMode=process: only routerd gets SIGTERM; keepalived and dnsmasq keep
  // the VIP and the leases and the next routerd adopts them (README, Commands).
  assert.deepEqual(d.get('KillMode'), ['process']);
  assert.deepEqual(d.get('ExecReload'), ['/bin/kill -HUP $MAINPID']);
  assert.deepEqual(d.get('Restart'), ['on-failure']);
  assert.deepEqual(d.get('RuntimeDirectoryPreserve'), ['yes'], 'pid files in /run/routerd survive a restart');
  assert.match(d.get('ExecStart')![0]!, / serve --config \/etc\/routerd\/router\.yaml --state-dir \/var\/lib\/routerd --run-dir \/run\/routerd$/);
  for (const cap of ['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_ADMIN', 'CAP_SETUID', 'CAP_SETGID'])
    assert.ok(d.get('CapabilityBoundingSet')![0]!.split(' ').includes(cap), `${cap} kept`);
  assert.equal(d.get('PrivateTmp'), undefined, 'engines outliving a restart must see the same /tmp');
});

