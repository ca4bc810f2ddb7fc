// Integration tests that need a tool from scripts/setup (promtool,
// systemd-analyze): outside CI they skip and say why; under CI=true a missing
// tool is a failure, since CI installs everything through scripts/setup.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export function hasTool(tool: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' }).status === 0;
}

export function requireTool(t: TestContext, tool: string, pkg: string): boolean {
  if (hasTool(tool)) return true;
  const reason = `${tool} is not installed (Debian package ${pkg}; run scripts/setup)`;
  if (process.env.CI === 'true') assert.fail(`cannot run under CI=true: ${reason}`);
  console.log(`skipping ${t.name}: ${reason}`);
  t.skip(reason);
  return false;
}
