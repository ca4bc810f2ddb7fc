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
      help: 'Reconcile passes per controller and outcome (ok, requeue, error).',
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
    conntrackdEntries: new Gauge({
      name: 'routerd_conntrackd_entries',
      help: 'conntrackd (NAT44SessionSync mode conntrackd) entries per cache: internal (this router\'s flows it replicates), external (only with an external cache), kernel (conntrack -C).',
      labelNames: ['resource', 'cache'] as const,
      registers: [registry],
    }),
    conntrackdCounter: new Gauge({
      name: 'routerd_conntrackd_stat',
      help: 'conntrackd counters as `conntrackd -s` reports them since it started (packets_sent, packets_received, send_errors, receive_errors, messages_lost, messages_malformed, injected_created, injected_updated, injected_destroyed, injected_failed: entries from the peer written into the kernel, netlink_overruns, kernel_resyncs; event_drops: events the kernel could not deliver to conntrackd\'s event socket; heals: resyncs routerd ran because events were missed).',
      labelNames: ['resource', 'counter'] as const,
      registers: [registry],
    }),
    conntrackdTransitions: new Counter({
      name: 'routerd_conntrackd_transitions_total',
      help: 'conntrackd role transitions routerd ran (master, backup, fault; resend = resync from the kernel and bulk send) by outcome.',
      labelNames: ['resource', 'role', 'outcome'] as const,
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
      help: 'Flows judged when NAT44Rules changed: kept, removed (invalid under the new rules).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    natReconfigSeconds: new Histogram({
      name: 'routerd_nat_reconfig_duration_seconds',
      help: 'Apply of a NAT44Rule change: ruleset, flow dump, judgement and cleanup.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
    handoverGate: new Gauge({
      name: 'routerd_handover_gate',
      help: '1 for the current state of each VirtualAddress handover gate: open, waiting (demoted until it holds the master\'s state), timed-out (opened without the state), disabled.',
      labelNames: ['resource', 'state'] as const,
      registers: [registry],
    }),
    handoverGateOpens: new Counter({
      name: 'routerd_handover_gate_opens_total',
      help: 'Handover gates opened, by why: master (no master to wait for), state-received, timed-out, adopted.',
      labelNames: ['resource', 'outcome'] as const,
      registers: [registry],
    }),
    handoverPullSeconds: new Histogram({
      name: 'routerd_handover_pull_duration_seconds',
      help: 'A returning router taking the master\'s state: from the start of the pull to the state in its kernel and on its disk.',
      labelNames: ['resource'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
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
