// Prometheus metrics for one routerd instance (own registry, so several
// instances can live in one test process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'routerd_process_' });
  const m = {
    registry,
    reconcileTotal: new Counter({
      name: 'routerd_reconcile_total',
      help: 'Reconcile passes per controller and outcome.',
      labelNames: ['controller', 'outcome'] as const,
      registers: [registry],
    }),
    reconcileSeconds: new Histogram({
      name: 'routerd_reconcile_duration_seconds',
      help: 'Duration of one controller reconcile.',
      labelNames: ['controller'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    resourcePhase: new Gauge({
      name: 'routerd_resource_phase',
      help: '1 for the current phase of each resource.',
      labelNames: ['kind', 'name', 'phase'] as const,
      registers: [registry],
    }),
    vrrpRole: new Gauge({
      name: 'routerd_vrrp_role',
      help: '1 for the current VRRP role of each VirtualAddress.',
      labelNames: ['resource', 'role'] as const,
      registers: [registry],
    }),
    vrrpTransitions: new Counter({
      name: 'routerd_vrrp_transitions_total',
      help: 'VRRP role transitions reported by keepalived.',
      labelNames: ['resource', 'role'] as const,
      registers: [registry],
    }),
    engineRestarts: new Counter({
      name: 'routerd_engine_restarts_total',
      help: 'Restarts of supervised daemons after they exited.',
      labelNames: ['engine'] as const,
      registers: [registry],
    }),
    configReloads: new Counter({
      name: 'routerd_config_reloads_total',
      help: 'Config loads by outcome (applied, invalid).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    nftApplies: new Counter({
      name: 'routerd_nft_applies_total',
      help: 'nftables table replacements by table and outcome.',
      labelNames: ['table', 'outcome'] as const,
      registers: [registry],
    }),
    sessionSyncBatches: new Counter({
      name: 'routerd_session_sync_batches_total',
      help: 'Session sync batches sent per resource, target, kind (full, stream, udp-refresh) and outcome.',
      labelNames: ['resource', 'target', 'kind', 'outcome'] as const,
      registers: [registry],
    }),
    sessionSyncEntries: new Counter({
      name: 'routerd_session_sync_entries_total',
      help: 'Conntrack entries per resource, target and result (sent, restored, failed, pruned, skipped).',
      labelNames: ['resource', 'target', 'result'] as const,
      registers: [registry],
    }),
    sessionSyncLag: new Histogram({
      name: 'routerd_session_sync_lag_seconds',
      help: 'From reading an entry on the master (dump or event) to its restore on the target.',
      labelNames: ['resource', 'target'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers: [registry],
    }),
    sessionSyncOverruns: new Counter({
      name: 'routerd_session_sync_event_overruns_total',
      help: 'conntrack event stream overruns (lost events; a full resync follows).',
      labelNames: ['resource'] as const,
      registers: [registry],
    }),
    leaseSyncTotal: new Counter({
      name: 'routerd_lease_sync_total',
      help: 'Lease sync pushes per resource, target and outcome (ok, error), and sources refused as invalid (target "-").',
      labelNames: ['resource', 'target', 'outcome'] as const,
      registers: [registry],
    }),
    leaseSyncBytes: new Counter({
      name: 'routerd_lease_sync_bytes_total',
      help: 'Bytes rsync sent per lease sync resource and target.',
      labelNames: ['resource', 'target'] as const,
      registers: [registry],
    }),
    leaseSyncSeconds: new Histogram({
      name: 'routerd_lease_sync_duration_seconds',
      help: 'Duration of one lease sync push (rsync over ssh) per resource and target.',
      labelNames: ['resource', 'target'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
    leaseSyncLastSuccess: new Gauge({
      name: 'routerd_lease_sync_last_success_timestamp_seconds',
      help: 'When each lease sync target last received the lease state.',
      labelNames: ['resource', 'target'] as const,
      registers: [registry],
    }),
    dhcpLeases: new Gauge({
      name: 'routerd_dhcp_leases',
      help: 'Active leases in the lease file of each DHCP server (on a standby: the synced copy).',
      labelNames: ['resource'] as const,
      registers: [registry],
    }),
    natReconfigFlows: new Counter({
      name: 'routerd_nat_reconfig_flows_total',
      help: 'Flows judged when NAT44Rules changed: kept, removed (invalid under the new rules), rebound (valid, deleted and re-inserted with the same binding).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    natReconfigSeconds: new Histogram({
      name: 'routerd_nat_reconfig_duration_seconds',
      help: 'Apply of a NAT44Rule change: ruleset, flow dump, judgement and cleanup.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
    poolAddresses: new Gauge({
      name: 'routerd_pool_addresses',
      help: 'Addresses of each NAT44AddressPool this node owns or stands by for (role owner|standby).',
      labelNames: ['resource', 'role'] as const,
      registers: [registry],
    }),
    poolOwnershipChanges: new Counter({
      name: 'routerd_pool_ownership_changes_total',
      help: 'Pool addresses this node took (direction in) or gave up (out).',
      labelNames: ['resource', 'direction'] as const,
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
