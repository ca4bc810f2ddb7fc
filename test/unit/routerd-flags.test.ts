// bin/routerd's shebang and the lab's `node bin/routerd` run routerd with the same Node flags.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ROUTERD_BIN, ROUTERD_NODE_FLAGS } from '../../src/lab/routerd.ts';

test("bin/routerd's shebang carries ROUTERD_NODE_FLAGS", () => {
  const first = readFileSync(ROUTERD_BIN, 'utf8').split('\n')[0]!;
  assert.equal(first, `#!/usr/bin/env -S node ${ROUTERD_NODE_FLAGS.join(' ')}`);
});
