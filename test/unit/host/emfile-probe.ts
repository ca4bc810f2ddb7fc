// Run by local.test.ts under `ulimit -n 64`: exhaust descriptors, then ask
// LocalHost to run and spawn. Prints one JSON line; a crash fails the test.
import { openSync } from 'node:fs';
import { LocalHost } from '../../../src/host/local.ts';

const held: number[] = [];
try {
  for (;;) held.push(openSync('/dev/null', 'r'));
} catch {
  // EMFILE: every descriptor is taken.
}
const host = new LocalHost();
const run = await host.run(['true']);
const spawned = await host.spawn(['true']).exited;
const stdin = await host.run(['cat'], { stdin: 'x' });
process.stdout.write(`${JSON.stringify({ run: { code: run.code, stderr: run.stderr }, spawn: spawned, stdin: { code: stdin.code } })}\n`);
