import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { KIND_NAMES } from '../../../src/controllers/kinds.ts';
import { desiredResources, loadDesired } from '../../../src/config/desired.ts';
import { parseConfigText } from '../../../src/config/load.ts';
import { REPO, example } from '../../helpers/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'routerd-load-'));
const write = (name: string, text: string) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

test('the seed examples validate unchanged', async () => {
  for (const f of ['nat44-session-sync.yaml', 'dhcp-lease-sync-ha.yaml']) {
    const r = await loadDesired({ files: [example(f)], replace: true });
    assert.deepEqual(r.errors, [], f);
  }
});

test('every kind has an example that validates', async () => {
  const seen = new Set<string>();
  for (const f of readdirSync(join(REPO, 'examples'), { recursive: true }).map(String).filter((f) => f.endsWith('.yaml'))) {
    const r = await loadDesired({ files: [join(REPO, 'examples', f)], replace: true });
    assert.deepEqual(r.errors, [], f);
    for (const res of desiredResources(r.config)) seen.add(res.kind);
  }
  assert.deepEqual([...seen].sort(), [...KIND_NAMES].sort());
});

test('seed 000 resource keeps its documented fields and gets defaults', async () => {
  const r = await loadDesired({ files: [example('nat44-session-sync.yaml')], replace: true });
  const sync = desiredResources(r.config).find((x) => x.kind === 'NAT44SessionSync');
  assert.ok(sync && sync.kind === 'NAT44SessionSync');
  assert.equal(sync.spec.mode, 'snapshot');
  assert.equal(sync.spec.interval, '2s');
  assert.deepEqual(sync.spec.targets[0]?.restoreCommand, ['sudo', 'conntrack']);
  assert.equal(sync.spec.targets[0]?.port, 22);
  assert.deepEqual(sync.spec.excludeNatRules, ['NAT44Rule/lan-to-dslite-ra']);
});

test('restoreCommand defaults to [conntrack]; lease sync interval defaults to 30s', () => {
  const r = parseConfigText(
    `- apiVersion: net.routerd.net/v1alpha1
  kind: NAT44SessionSync
  metadata: {name: s}
  spec:
    snatAddresses: [198.51.100.100]
    targets: [{host: 192.0.2.3}]
- apiVersion: net.routerd.net/v1alpha1
  kind: DHCPv4ServerLeaseSync
  metadata: {name: l}
  spec:
    source: {resource: DHCPv4Server/x}
    targets: [{host: 192.0.2.3}]
`,
    'inline.yaml',
  );
  assert.deepEqual(r.errors, []);
  const [sync, lease] = r.resources.map((l) => l.resource);
  assert.ok(sync?.kind === 'NAT44SessionSync' && lease?.kind === 'DHCPv4ServerLeaseSync');
  assert.deepEqual(sync.spec.targets[0]?.restoreCommand, ['conntrack']);
  assert.equal(lease.spec.interval, '30s');
  assert.deepEqual(lease.spec.targets[0]?.sshOptions, []);
});

test('a multi-document stream loads like a list', () => {
  const r = parseConfigText(
    `apiVersion: net.routerd.net/v1alpha1
kind: Interface
metadata: {name: lan}
spec: {ifname: lan0}
---
- apiVersion: net.routerd.net/v1alpha1
  kind: Interface
  metadata: {name: wan}
  spec: {ifname: wan0}
`,
    'multi.yaml',
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    r.resources.map((l) => l.resource.metadata.name),
    ['lan', 'wan'],
  );
});

test('an empty file is a valid empty config', () => {
  const r = parseConfigText('# nothing yet\n', 'empty.yaml');
  assert.deepEqual(r.errors, []);
  assert.equal(r.resources.length, 0);
});

test('files merge over the node config by Kind/name; --replace ignores it', async () => {
  const base = write(
    'base.yaml',
    `- apiVersion: net.routerd.net/v1alpha1
  kind: Interface
  metadata: {name: lan}
  spec: {ifname: lan0}
- apiVersion: net.routerd.net/v1alpha1
  kind: Interface
  metadata: {name: wan}
  spec: {ifname: wan0}
`,
  );
  const overlay = write(
    'overlay.yaml',
    `- apiVersion: net.routerd.net/v1alpha1
  kind: Interface
  metadata: {name: wan}
  spec: {ifname: wan1}
`,
  );
  const merged = await loadDesired({ files: [overlay], basePath: base, baseExplicit: true });
  assert.deepEqual(merged.errors, []);
  const ifnames = desiredResources(merged.config).map((r) => (r.kind === 'Interface' ? r.spec.ifname : ''));
  assert.deepEqual(ifnames, ['lan0', 'wan1']);
  const replaced = await loadDesired({ files: [overlay], basePath: base, replace: true });
  assert.equal(replaced.config.resources.length, 1);
});

test('a reference satisfied by the node config is not dangling after merge', async () => {
  const base = write(
    'base-rule.yaml',
    `- apiVersion: net.routerd.net/v1alpha1
  kind: NAT44Rule
  metadata: {name: out}
  spec: {outInterface: wan0, snat: {address: 198.51.100.100}}
`,
  );
  const overlay = write(
    'sync.yaml',
    `- apiVersion: net.routerd.net/v1alpha1
  kind: NAT44SessionSync
  metadata: {name: s}
  spec:
    natRules: [NAT44Rule/out]
    targets: [{host: 192.0.2.3}]
`,
  );
  assert.deepEqual((await loadDesired({ files: [overlay], basePath: base, baseExplicit: true })).errors, []);
  const alone = await loadDesired({ files: [overlay], replace: true });
  assert.deepEqual(
    alone.errors.map((e) => e.code),
    ['RD_E_DANGLING_REFERENCE'],
  );
});

test('a missing -f file is an error naming it; a missing default node config is only a note', async () => {
  const r = await loadDesired({ files: [join(tmp, 'nope.yaml')], basePath: join(tmp, 'no-base.yaml') });
  assert.equal(r.errors[0]?.code, 'RD_E_FILE_NOT_FOUND');
  assert.match(r.notes[0] ?? '', /does not exist/);
});

test('a reference to a resource that failed validation is not reported as dangling', async () => {
  const f = write(
    'half.yaml',
    `- apiVersion: net.routerd.net/v1alpha1
  kind: NAT44Rule
  metadata: {name: out}
  spec: {outInterface: wan0, snat: {address: 198.51.100.300}}
- apiVersion: net.routerd.net/v1alpha1
  kind: NAT44SessionSync
  metadata: {name: s}
  spec:
    natRules: [NAT44Rule/out]
    targets: [{host: 192.0.2.3}]
`,
  );
  const r = await loadDesired({ files: [f], replace: true });
  assert.deepEqual(
    r.errors.map((e) => e.code),
    ['RD_E_INVALID_ADDRESS'],
  );
});

test('a config over the size cap fails fast with a clear error, before any parsing', async () => {
  // 50 MB: what used to take minutes and end in "Maximum call stack size exceeded".
  const huge = `- apiVersion: net.routerd.net/v1alpha1\n  kind: Interface\n  metadata: {name: a}\n  spec: {ifname: ${'['.repeat(50 * 1024 * 1024)}`;
  const r = parseConfigText(huge, 'huge.yaml');
  assert.deepEqual(r.errors.map((e) => `${e.code} ${e.line}:${e.col}`), ['RD_E_TOO_LARGE 1:1']);
  assert.match(r.errors[0]!.message, /at most 2097152 bytes/);
  const file = write('big.yaml', `# ${'x'.repeat(3 * 1024 * 1024)}\n`);
  const fromFile = await loadDesired({ files: [file], replace: true });
  assert.deepEqual(fromFile.errors.map((e) => e.code), ['RD_E_TOO_LARGE']);
});

test('aliases and unknown tags are refused at their position, not mis-resolved', () => {
  const r = parseConfigText('- &a {apiVersion: net.routerd.net/v1alpha1, kind: Interface, metadata: {name: a}, spec: {ifname: a0}}\n- *a\n', 'alias.yaml');
  assert.deepEqual(r.errors.map((e) => `${e.code} ${e.line}:${e.col}`), ['RD_E_YAML_UNSUPPORTED 2:3']);
  const t = parseConfigText('- !!binary aGk=\n', 'tag.yaml');
  assert.match(t.errors[0]!.message, /YAML tag !!binary is not supported/);
});

test('a SNAT address no VirtualAddress carries is a warning, not an error', async () => {
  const text = readFileSync(example('lab/router-a.yaml'), 'utf8').replace(/address: 198\.51\.100\.100$/m, 'address: 198.51.100.150');
  const f = write('snat-warning.yaml', text);
  const r = await loadDesired({ files: [f], replace: true });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.notes.map((n) => n.replace(/^.*?: warning /, '')), [
    'NAT44Rule/lan-out spec.snat.address: SNAT address 198.51.100.150 is not carried by any VirtualAddress (address or extraAddresses); unless an interface holds it statically, it will not move with the VRRP role',
  ]);
  assert.deepEqual((await loadDesired({ files: [example('lab/router-a.yaml')], replace: true })).notes, []);
});
