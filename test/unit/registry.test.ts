// The registry is the only list of kinds with a planner and a controller:
// each kind once, in dependency order, and everything else derived from it.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KIND_NAMES, controllerNameOf } from '../../src/controllers/kinds.ts';
import { planPass } from '../../src/controllers/plan.ts';
import { CONTROLLER_NAMES, KIND_MODULES, MODULES, makeControllers } from '../../src/controllers/registry.ts';

test('every kind is registered exactly once, and nothing else is', () => {
  const kinds = KIND_MODULES.map((m) => m.kind);
  assert.equal(new Set(kinds).size, kinds.length, `a kind is registered twice: ${kinds.join(', ')}`);
  assert.deepEqual(KIND_NAMES, kinds);
});

test('every kind a folder\'s schema.ts declares has a module, and the module carries those API facts', async () => {
  const declared = new Map<string, unknown>();
  for (const dir of readdirSync('src/controllers', { withFileTypes: true }).filter((e) => e.isDirectory())) {
    const file = join('src/controllers', dir.name, 'schema.ts');
    if (!existsSync(file)) continue;
    const mod = (await import(`../../${file}`)) as Record<string, unknown>;
    for (const v of Object.values(mod))
      if (v && typeof v === 'object' && 'kind' in v && 'spec' in v && 'controller' in v) {
        assert.ok(!declared.has(String(v.kind)), `${String(v.kind)} is declared twice`);
        declared.set(String(v.kind), v);
      }
  }
  assert.deepEqual([...declared.keys()].sort(), [...KIND_NAMES].sort());
  for (const m of KIND_MODULES) assert.equal(m.api, declared.get(m.kind), `${m.kind}: the module carries its schema.ts facts`);
});

test('the registry order is the dependency order: what a planner reads, an earlier one projects', () => {
  const at = (k: string) => MODULES.findIndex((m) => m.kind === k);
  assert.equal(at('Interface'), 0);
  for (const later of ['NAT44Rule', 'StatelessNAT44', 'DHCPv4Server', 'DHCPv6Server', 'DHCPv6PrefixDelegation', 'NAT44SessionSync']) assert.ok(at('VirtualAddress') < at(later), `VirtualAddress before ${later}`);
  assert.ok(at('NAT44Rule') < at('NAT44SessionSync'), 'session sync reads the rules\' snatAddresses');
  for (const sync of ['DHCPv4ServerLeaseSync', 'DHCPv6ServerLeaseSync', 'DHCPv6PrefixDelegationLeaseSync']) assert.ok(at('DHCPv6PrefixDelegation') < at(sync));
});

test('controllers and plans derive from the registry: a controller for each kind, or reconciled with another, named as the kind says', () => {
  const controllers = makeControllers();
  const controlling = MODULES.filter((m) => m.newController !== undefined);
  assert.deepEqual(controllers.map((c) => c.kind), controlling.map((m) => m.kind));
  assert.deepEqual(controllers.map((c) => c.name), controlling.map((m) => controllerNameOf(m.kind)));
  assert.deepEqual(CONTROLLER_NAMES, controllers.map((c) => c.name));
  // Every kind is reconciled by exactly one controller, under its own controller name.
  const reconciledBy = MODULES.map((m) => controllers.filter((c) => c.kind === m.kind || (c.alsoKinds ?? []).includes(m.kind)));
  for (const [i, by] of reconciledBy.entries()) {
    assert.equal(by.length, 1, `${MODULES[i]!.kind} is reconciled by ${by.length} controllers`);
    assert.equal(by[0]!.name, controllerNameOf(MODULES[i]!.kind));
  }
  assert.throws(() => makeControllers(['nope']), /unknown controller/);
  const plan = planPass([], { files: new Map(), existing: new Set() }, { paths: { stateDir: '/s', runDir: '/r' }, nodeName: 'n' });
  assert.deepEqual([...plan.byKind.keys()], MODULES.map((m) => m.kind), 'every kind is planned, even without resources (its removals)');
});

test('no other file lists the kinds\' planners or controllers', () => {
  const dir = 'src/controllers';
  const offenders: string[] = [];
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  for (const file of walk('src').filter((f) => f.endsWith('.ts'))) {
    if (file === join(dir, 'registry.ts')) continue;
    const text = readFileSync(file, 'utf8');
    const kindModules = [...text.matchAll(/import \{[^}]*\b(\w+Kind)\b[^}]*\} from '\.\/[\w-]+\/kind\.ts'/g)];
    if (kindModules.length) offenders.push(file);
  }
  assert.deepEqual(offenders, []);
});
