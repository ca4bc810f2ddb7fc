// What each status field means and which values it takes: the contract that
// `spec.when`, scripts and operators read, shown by `routerctl explain`.
// Every field of statusFieldsOf(kind) has an entry (a unit test checks).
import type { Kind } from '../api/kinds.ts';
import { Phase, Reason } from '../controllers/status.ts';

export interface StatusFieldDoc {
  readonly type: string;
  readonly doc: string;
  /** The values the field takes, when they are a closed set. */
  readonly values?: readonly string[];
}

const PROCESS: StatusFieldDoc = { type: 'string', doc: 'The engine process: "running (pid N)", "stopped" (by design, e.g. on a standby) or "failed: why".' };
const LEASE_FILE: StatusFieldDoc = { type: 'string', doc: 'The derived lease file (or state directory) path on this node.' };
const LAST_SYNC: StatusFieldDoc = { type: 'string (RFC 3339)', doc: 'When the newest successful push to any target ended; absent before the first.' };
const SYNC_PHASES = ['Pending', 'Synced', 'Degraded', 'Paused'];

export const COMMON_STATUS_DOCS: Record<string, StatusFieldDoc> = {
  phase: { type: 'string', doc: 'Where the resource stands.', values: Object.values(Phase) },
  reason: { type: 'string', doc: 'Why, as a stable CamelCase word scripts can match: one of a closed set (docs/api.md).', values: Object.values(Reason) },
  message: { type: 'string', doc: 'The same for people: what is wrong and what to do.' },
  observedGeneration: { type: 'integer', doc: 'The config generation the status describes; behind `generation` while a change is being applied.' },
  lastTransitionTime: { type: 'string (RFC 3339)', doc: 'When phase last changed.' },
};

export const STATUS_DOCS: { [K in Kind]: Record<string, StatusFieldDoc> } = {
  BGPRouter: {
    process: { type: 'string', doc: 'FRR (zebra, bfdd, bgpd) for this node.', values: ['running', 'starting'] },
    established: { type: 'integer', doc: 'BGP sessions in state Established.' },
    peers: { type: 'object[]', doc: 'Each BGP neighbour as bgpd reports it: address, state, prefixes sent and received.' },
  },
  BGPPeer: {
    state: { type: 'string', doc: 'The BGP session state bgpd reports (unknown while FRR is not running).', values: ['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established', 'unknown'] },
    bfd: { type: 'string', doc: 'The BFD session to this peer, when spec.bfd is set.', values: ['up', 'down', 'init', 'unknown'] },
    prefixesSent: { type: 'integer', doc: 'Prefixes (pool /32s and standby routes) announced to this peer.' },
  },
  BFD: {
    sessions: { type: 'integer', doc: 'BFD sessions bfdd runs on this node.' },
    up: { type: 'integer', doc: 'Of those, the ones up.' },
  },
  NAT44AddressPool: {
    membersUp: { type: 'string[]', doc: 'Pool members that are eligible now (BFD up and ready), this node included when it is.' },
    owned: { type: 'string[]', doc: 'Pool addresses this node owns (announces and SNATs to).' },
    standby: { type: 'string[]', doc: 'Pool addresses this node is the successor for (receives their sessions, pre-announces a standby route).' },
    assignments: { type: 'object[]', doc: 'Every address with its owner and successor, from rendezvous hashing over membersUp.' },
    since: { type: 'string (RFC 3339)', doc: 'When this node\'s share last changed.' },
    ready: { type: 'boolean', doc: 'This node passed its takeover gate (holds the sessions of the addresses it will own).', values: ['true', 'false'] },
    readySince: { type: 'string (RFC 3339)', doc: 'When the gate opened.' },
    sync: { type: 'object', doc: 'Per address: the last session pull or push for it (peer, entries, outcome).' },
  },
  Interface: {
    ifname: { type: 'string', doc: 'The kernel link name.' },
    up: { type: 'boolean', doc: 'Administratively up.', values: ['true', 'false'] },
    operState: { type: 'string', doc: 'The kernel operstate of the link.', values: ['UP', 'DOWN', 'LOWERLAYERDOWN', 'DORMANT', 'UNKNOWN'] },
    mac: { type: 'string', doc: 'Link-layer address.' },
    addresses: { type: 'string[]', doc: 'Addresses on the link, CIDR notation.' },
  },
  VirtualAddress: {
    role: { type: 'string', doc: 'This node\'s VRRP role, from keepalived\'s notify_fifo (unknown until keepalived reports).', values: ['master', 'backup', 'fault', 'unknown'] },
    since: { type: 'string (RFC 3339)', doc: 'When the role was reported.' },
    roleReason: { type: 'string', doc: 'What reported the role (keepalived state and priority, adoption, exit).' },
    keepalived: PROCESS,
  },
  NAT44Rule: {
    snatAddress: { type: 'string (IPv4)', doc: 'The SNAT address in use (first of snatAddresses); absent while pending.' },
    snatAddresses: { type: 'string[]', doc: 'Every address this rule translates to.' },
  },
  StatelessNAT44: {
    mappings: { type: 'object[]', doc: 'Per mapping: external, internal, inPackets, outPackets (the map elements\' counters).' },
    externalAddresses: { type: 'string[]', doc: 'External addresses held by this node.' },
  },
  NAT44SessionSync: {
    targets: { type: 'object[]', doc: 'Per target: name, host, phase, reason, lastSyncTime, lastFullSyncTime, sent, restored, pruned, failed, durationMs, lagMs, error.', values: SYNC_PHASES },
    lastSyncTime: LAST_SYNC,
    snatAddresses: { type: 'string[]', doc: 'The SNAT addresses whose sessions are mirrored.' },
    localEntries: { type: 'integer', doc: 'snapshot/stream: selected sessions on this router at the last full resync.' },
    eventOverruns: { type: 'integer', doc: 'stream: conntrack event overruns (ENOBUFS) since the mode started; each one is healed by a full resync.' },
    resyncs: { type: 'integer', doc: 'stream: full resyncs that healed lost events (overruns within 5 s of each other are healed by one).' },
    lastOverrunTime: { type: 'string (RFC 3339)', doc: 'stream: when events were last lost.' },
  },
  DHCPv4Server: {
    leaseCount: { type: 'integer', doc: 'Active leases in the lease file (on a standby: the synced copy).' },
    leaseFile: LEASE_FILE,
    process: PROCESS,
  },
  DHCPv6Server: {
    leaseCount: { type: 'integer', doc: 'Active leases in the lease file (on a standby: the synced copy).' },
    leaseFile: LEASE_FILE,
    process: PROCESS,
  },
  DHCPv6PrefixDelegation: {
    prefix: { type: 'string (IPv6 CIDR)', doc: 'The delegated prefix; absent until the server delegates one.' },
    validLifetime: { type: 'integer (seconds)', doc: 'Valid lifetime of the prefix.' },
    preferredLifetime: { type: 'integer (seconds)', doc: 'Preferred lifetime of the prefix.' },
    leaseFile: LEASE_FILE,
    process: PROCESS,
  },
  DHCPv4ServerLeaseSync: {
    targets: { type: 'object[]', doc: 'Per target: name, host, phase, lastSyncTime, bytes, durationMs, error.', values: SYNC_PHASES },
    lastSyncTime: LAST_SYNC,
    leaseFile: LEASE_FILE,
  },
  DHCPv6ServerLeaseSync: {
    targets: { type: 'object[]', doc: 'Per target: name, host, phase, lastSyncTime, bytes, durationMs, error.', values: SYNC_PHASES },
    lastSyncTime: LAST_SYNC,
    leaseFile: LEASE_FILE,
  },
  DHCPv6PrefixDelegationLeaseSync: {
    targets: { type: 'object[]', doc: 'Per target: name, host, phase, lastSyncTime, bytes, durationMs, error.', values: SYNC_PHASES },
    lastSyncTime: LAST_SYNC,
    leaseFile: LEASE_FILE,
  },
};
