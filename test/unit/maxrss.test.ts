// docs/kernel-facts.md, "Process accounting": a spawned program's getrusage
// maxRSS includes the RSS its parent had at the fork (folded in at exec); its
// own peak is VmHWM. The benches report VmHWM for that reason.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const PROBE =
  "const h = Number(/VmHWM:\\s+(\\d+) kB/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;" +
  'console.log(JSON.stringify({ hwmMB: h, maxRssMB: process.resourceUsage().maxRSS / 1024 }))';

test("a child's getrusage maxRSS counts the parent's memory at the fork; its VmHWM does not", () => {
  const ballast = Buffer.alloc(256 * 1048576, 1);
  const parentMB = process.memoryUsage().rss / 1048576;
  const r = spawnSync(process.execPath, ['-e', PROBE], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const child = JSON.parse(r.stdout) as { hwmMB: number; maxRssMB: number };
  assert.ok(ballast[ballast.length - 1] === 1);
  assert.ok(parentMB > 256, `parent resident: ${parentMB} MB`);
  assert.ok(child.maxRssMB > 256, `child maxRSS ${child.maxRssMB} MB holds the parent's ballast (parent ${Math.round(parentMB)} MB)`);
  assert.ok(child.hwmMB < 200, `child VmHWM ${child.hwmMB} MB is its own`);
});
