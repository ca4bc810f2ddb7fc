// What a fresh machine does not have, and what a mount namespace other than
// the initial one (as CI runs everything, see scripts/isolated) does differently:
// - /run is empty after boot: the lab creates what its daemons need per node
//   (sshd's /run/sshd) instead of finding it on the host;
// - binding a mount-namespace file (`unshare --mount=FILE`) is refused with
//   EINVAL unless the binder's own mount namespace has the lower namespace id,
//   and on this kernel ids come from per-CPU batches: a namespace created later
//   on another CPU can have the lower id. The lab therefore holds each node's
//   mount namespace with a process (docs/kernel-facts.md).
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { LocalHost } from '../../src/host/local.ts';
import { requireE2E } from '../helpers/e2e.ts';

const local = new LocalHost();

// Inside a private mount namespace pinned to CPU $2: `unshare --mount=FILE` 4
// times on CPU $3 (the new namespace is made there and bound onto FILE from the
// wrapper's namespace), printing one word per attempt.
const BIND_PROBE = `
set -u
dir="$1"; child_cpu="$3"
mkdir -p "$dir"; mount --bind "$dir" "$dir"; mount --make-private "$dir"
for i in 1 2 3 4; do
  touch "$dir/$i"
  if err=$(LC_ALL=C taskset -c "$child_cpu" unshare --mount="$dir/$i" --propagation slave true 2>&1); then echo ok; umount "$dir/$i"
  else case "$err" in *"Invalid argument"*) echo EINVAL ;; *) echo "other:$err" ;; esac; fi
done
umount "$dir"; rm -rf "$dir"
`;

test('fresh machine: what the lab and the kernel need', { timeout: 120_000 }, async (t) => {
  if (!(await requireE2E(t, ['taskset']))) return;
  const cpus = availableParallelism();

  await t.test('binding a mount-namespace file from a non-initial mount namespace depends on the CPU (kernel fact)', async (t) => {
    if (cpus < 2) {
      if (process.env.CI === 'true') assert.fail('needs two CPUs to show the per-CPU namespace ids, and CI runs every e2e test');
      return t.skip('needs two CPUs to show the per-CPU namespace ids');
    }
    const outcomes: string[] = [];
    for (const [wrapperCpu, childCpu] of [[0, 1], [1, 0]] as const) {
      const dir = `/tmp/rt-${process.pid}-bindprobe-${wrapperCpu}`;
      const r = await local.run(
        ['taskset', '-c', String(wrapperCpu), 'unshare', '--mount', '--propagation', 'private', '--',
          'bash', '-c', BIND_PROBE, 'bind-probe', dir, String(wrapperCpu), String(childCpu)],
        { timeoutMs: 60_000 },
      );
      assert.equal(r.code, 0, r.stderr);
      outcomes.push(...r.stdout.split('\n').filter(Boolean));
    }
    console.log(`bind outcomes (namespace made on the other CPU, 4 each way): ${outcomes.join(' ')}`);
    assert.deepEqual(outcomes.filter((o) => o !== 'ok' && o !== 'EINVAL'), [], 'only EINVAL is expected as a failure');
    // With ids in per-CPU batches one of the two directions is refused.
    assert.ok(outcomes.includes('EINVAL'), 'no bind was refused: namespace ids are monotonic on this kernel; the holder process in src/lab/topology.ts is then no longer needed');
  });

  await t.test('the lab comes up inside a private mount namespace with an empty /run, on every CPU', async () => {
    for (let cpu = 0; cpu < Math.min(cpus, 2); cpu++) {
      const r = await local.run(
        ['taskset', '-c', String(cpu), 'unshare', '--mount', '--propagation', 'private', '--',
          'sh', '-c', 'mount -t tmpfs tmpfs /run && exec "$@"', 'fresh-run',
          process.execPath, '--import', 'tsx', 'test/fixtures/lab/lab-up.ts', `cpu${cpu}`],
        { timeoutMs: 60_000 },
      );
      assert.equal(r.code, 0, `cpu ${cpu}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /lab-up ok/);
    }
  });
});
