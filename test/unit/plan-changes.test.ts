import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AnyResource } from '../../src/api/kinds.ts';
import { hasChanges, mergeChanges, planChanges } from '../../src/controllers/changes.ts';
import { observeAndPlan } from '../../src/controllers/plan.ts';
import { formatPlan } from '../../src/cli/format.ts';
import { planExitCode, PlanExit } from '../../src/cli/plan-changes.ts';
import { FakeHost } from '../../src/host/fake.ts';
import { resourcesOfFile } from '../helpers/config.ts';
import { example } from '../helpers/paths.ts';

const paths = { stateDir: '/var/lib/routerd', runDir: '/run/routerd' };
const opts = { paths, nodeName: 'ra' };

/** A router that runs router-a.yaml: the NAT table and keepalived's config are in place. */
function runningHost(): FakeHost {
  const host = new FakeHost()
    .on(['ip', '-j', 'addr'], { stdout: '[]' })
    .on(['nft', '-j', 'list', 'chains'], { stdout: JSON.stringify({ nftables: [{ metainfo: { version: '1.0.6', release_name: 'x', json_schema_version: 1 } }, { chain: { family: 'ip', table: 'routerd_nat', name: 'snat_out', handle: 1 } }] }) })
    .on(['nft', '-j', '-t', 'list', 'sets'], { stdout: JSON.stringify({ nftables: [{ metainfo: { version: '1.0.6', release_name: 'x', json_schema_version: 1 } }] }) })
    .on(['nft', 'list', 'table', 'ip', 'routerd_nat'], { stdout: 'table ip routerd_nat {\n\tcomment "routerd:0123456789abcdef"\n}\n' })
    .on(['conntrack', '-C'], { stdout: '25\n' });
  host.files.set('/run/routerd/keepalived/keepalived.conf', 'vrrp_instance routerd_lan_vip {}\n');
  return host;
}

async function planFor(previous: readonly AnyResource[] | undefined, next: readonly AnyResource[]) {
  const { observed, plan } = await observeAndPlan(runningHost(), next, opts);
  return mergeChanges(plan.plans, planChanges(previous, next, observed), plan.removals);
}

const transcript = (plans: Awaited<ReturnType<typeof planFor>>) =>
  plans.flatMap((p) => p.actions.filter((a) => a.verb === 'delete' || a.verb === 'update').map((a) => `${p.resource} ${a.verb} ${a.object}: ${a.detail}`));

test('plan shows removals: the NAT rule and the session sync removed, the NAT table deleted', async () => {
  const running = (await resourcesOfFile(example('lab/router-a.yaml'))) as AnyResource[];
  const next = running.filter((r) => r.kind !== 'NAT44Rule' && r.kind !== 'NAT44SessionSync');
  const plans = await planFor(running, next);
  assert.deepEqual(transcript(plans), [
    'NAT44Rule/lan-out delete nft rules of NAT44Rule/lan-out: SNAT to 198.51.100.100 stops for 192.0.2.0/24',
    'NAT44SessionSync/lan-sessions delete sync NAT44SessionSync/lan-sessions: sync stopped: peer keep their last copy, which ages',
    'node delete nft table ip routerd_nat: no NAT44Rule left: all outbound NAT on this router stops',
  ]);
  assert.match(formatPlan(plans), /Plan: .*3 delete/);
  assert.equal(planExitCode(plans), PlanExit.Changes);
});

test('plan shows old → new for updates', async () => {
  const running = (await resourcesOfFile(example('lab/router-a.yaml'))) as AnyResource[];
  const next = running.map((r) => (r.kind === 'VirtualAddress' ? ({ ...r, spec: { ...r.spec, priority: 120, advertInterval: '1s' } } as AnyResource) : r));
  assert.deepEqual(transcript(await planFor(running, next)).filter((l) => l.includes('spec.')), [
    'VirtualAddress/lan-vip update spec.advertInterval: "200ms" → "1s"',
    'VirtualAddress/lan-vip update spec.priority: 150 → 120',
  ]);
});

test('an empty config plans keepalived stopped and the NAT table deleted, even without a running daemon', async () => {
  const plans = await planFor(undefined, []);
  assert.deepEqual(transcript(plans), [
    'node delete keepalived: no VirtualAddress left: keepalived stops and every VIP this router holds is released',
    'node delete nft table ip routerd_nat: no NAT44Rule left: all outbound NAT on this router stops',
  ]);
});

test('--detailed-exitcode: 0 when the plan changes nothing', () => {
  const noop = [{ resource: 'Interface/lan', actions: [{ resource: 'Interface/lan', verb: 'noop' as const, object: 'link lan0', detail: '' }], status: { phase: 'Ready' as const, reason: 'Applied' as const, message: '' } }];
  assert.equal(hasChanges(noop), false);
  assert.equal(planExitCode(noop), PlanExit.NoChanges);
});
