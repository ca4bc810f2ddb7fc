// e2e tests need root and network namespaces. Outside CI they skip with the
// reason printed; under CI=true a missing prerequisite is a failure.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { LocalHost } from '../../src/host/local.ts';

export async function e2eSkipReason(tools: readonly string[] = []): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (network and mount namespaces)';
  const host = new LocalHost();
  const r = await host.run(['ip', 'netns', 'list'], { timeoutMs: 5_000 });
  if (r.code !== 0) return `ip netns unavailable: ${r.stderr.trim()}`;
  for (const tool of ['nsenter', 'unshare', ...tools]) {
    const w = await host.run(['sh', '-c', 'command -v "$1"', 'sh', tool], { timeoutMs: 5_000 });
    if (w.code !== 0) return `${tool} is not installed (run scripts/setup)`;
  }
  return undefined;
}

/** True when the test may run; otherwise skips it (or fails it under CI). */
export async function requireE2E(t: TestContext, tools: readonly string[] = []): Promise<boolean> {
  const reason = await e2eSkipReason(tools);
  if (reason === undefined) return true;
  if (process.env.CI === 'true') assert.fail(`e2e test cannot run under CI=true: ${reason}`);
  console.log(`skipping ${t.name}: ${reason}`);
  t.skip(reason);
  return false;
}
