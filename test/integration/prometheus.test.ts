// The alert rules and the Grafana dashboard, checked by Prometheus' own tool:
// `promtool check rules` (syntax, templates), `promtool test rules` (each
// alert fires on its situation and not on its look-alike), and every PromQL
// query of the dashboard parsed by promtool as a recording rule, on metric
// names routerd really exports (or node_exporter's conntrack collector).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { createMetrics } from '../../src/observability/metrics.ts';
import { REPO } from '../helpers/paths.ts';
import { requireTool } from '../helpers/tools.ts';

const PROM = join(REPO, 'deploy', 'prometheus');
const DASHBOARD = join(REPO, 'deploy', 'grafana', 'routerd-dashboard.json');
// Metrics routerd does not define itself: node_exporter's conntrack collector,
// and the failback gate another change adds (the name the dashboard and the
// alert expect).
const EXTERNAL = new Set(['node_nf_conntrack_entries', 'node_nf_conntrack_entries_limit']);

function promtool(args: readonly string[]) {
  const r = spawnSync('promtool', args, { cwd: PROM, encoding: 'utf8' });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; annotations: { list: { expr?: string }[] } };
const queries = [
  ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))),
  ...dashboard.annotations.list.filter((a) => a.expr).map((a) => ({ where: 'annotation', expr: a.expr! })),
];

/** Grafana's variables replaced by what Grafana would send, so promtool can parse the query. */
const asPromQL = (expr: string) => expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*').replaceAll('$node', '.*');

async function exportedMetricNames(): Promise<Set<string>> {
  const m = createMetrics();
  const names = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${s}`);
  }
  return names;
}

test('promtool check rules accepts the alert rules', (t) => {
  if (!requireTool(t, 'promtool', 'prometheus')) return;
  const r = promtool(['check', 'rules', 'routerd-alerts.yml']);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /SUCCESS: \d+ rules found/);
});

test('promtool test rules: every alert fires on its situation and not on its look-alike', (t) => {
  if (!requireTool(t, 'promtool', 'prometheus')) return;
  const r = promtool(['test', 'rules', 'routerd-alerts.test.yml']);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /SUCCESS/);
});

test('the alerts the issue asks for exist and each has a unit test', () => {
  const rules = readFileSync(join(PROM, 'routerd-alerts.yml'), 'utf8');
  const tests = readFileSync(join(PROM, 'routerd-alerts.test.yml'), 'utf8');
  const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
  for (const a of ['RouterdSessionSyncStale', 'RouterdStandbyShortOfEntries', 'RouterdGateHeldTooLong', 'RouterdTwoMasters', 'RouterdConntrackTableNearFull']) assert.ok(alerts.includes(a), a);
  for (const a of alerts) assert.match(tests, new RegExp(`alertname: ${a}\\n`), `${a} has a promtool test`);
});

test('every dashboard query parses in promtool', (t) => {
  if (!requireTool(t, 'promtool', 'prometheus')) return;
  const dir = mkdtempSync(join(tmpdir(), 'routerd-dash-'));
  try {
    const file = join(dir, 'queries.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: asPromQL(q.expr) })) }] }));
    const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the dashboard shows what the issue asks for, on metrics routerd exports', async () => {
  const known = await exportedMetricNames();
  const used = new Set(queries.flatMap((q) => [...q.expr.matchAll(/\b((?:routerd|node)_[a-z0-9_]+)/g)].map((m) => m[1]!)));
  for (const name of used) assert.ok(known.has(name) || EXTERNAL.has(name), `dashboard uses ${name}, which nothing exports`);
  const all = queries.map((q) => q.expr).join('\n');
  for (const metric of [
    'routerd_vrrp_role', // role per router
    'routerd_vrrp_transitions_total',
    'routerd_session_sync_lag_seconds_bucket', // sync lag per target
    'routerd_session_sync_entries_total', // entries per target
    'routerd_session_sync_event_overruns_total', // overruns (and full resyncs from batches{kind="full"})
    'routerd_lease_sync_last_success_timestamp_seconds', // lease-sync age
    'routerd_handover_gate', // gate state
    'routerd_reconcile_total', // reconcile errors
    'node_nf_conntrack_entries_limit',
  ])
    assert.ok(all.includes(metric), `no panel on ${metric}`);
  assert.ok(dashboard.panels.some((p) => p.type === 'state-timeline' && p.targets?.some((t) => t.expr.includes('routerd_vrrp_role'))), 'role per router as a state timeline');
});
