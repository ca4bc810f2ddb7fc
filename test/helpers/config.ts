import assert from 'node:assert/strict';
import type { AnyResource } from '../../src/api/kinds.ts';
import { desiredResources, loadDesired } from '../../src/config/desired.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { validateConfigSet } from '../../src/config/validate.ts';

/** Resources of a YAML text, asserting it is valid. */
export function resourcesOf(yaml: string): AnyResource[] {
  const r = parseConfigText(yaml, 'inline.yaml');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(validateConfigSet(r.resources), []);
  return r.resources.map((l) => l.resource);
}

export async function resourcesOfFile(path: string): Promise<AnyResource[]> {
  const r = await loadDesired({ files: [path], replace: true });
  assert.deepEqual(r.errors, []);
  return desiredResources(r.config);
}
