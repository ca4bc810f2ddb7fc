// keepalived.conf for the node's VirtualAddresses. keepalived needs one
// statement per line (see ../shared/docs/kernel-facts.md), so every block is
// opened and closed on lines of its own.
import type { ResourceOf } from '../../api/kinds.ts';
import { parseCidr, parseDuration } from '../../api/primitives.ts';

export interface KeepalivedPaths {
  /** FIFO keepalived writes role changes to; routerd reads it. */
  readonly notifyFifo: string;
  /** The handover gate's track_file for a VirtualAddress (absent: no gate rendered). */
  readonly gateFile?: (vipName: string) => string;
}

export interface KeepalivedInput {
  readonly routerId: string;
  readonly virtualAddresses: readonly ResourceOf<'VirtualAddress'>[];
  /** Resolves `interface:` names (Interface resources) to kernel names. */
  readonly ifname: (name: string) => string;
  readonly paths: KeepalivedPaths;
}

/** The VRRP instance name keepalived reports in notify_fifo lines. */
export function instanceName(vipName: string): string {
  return `routerd_${vipName.replace(/-/g, '_')}`;
}

/** The track_file name of a VirtualAddress's handover gate. */
export function gateTrackName(vipName: string): string {
  return `${instanceName(vipName)}_gate`;
}

/**
 * The offset routerd writes into the gate file while a router is demoted:
 * brings the priority down to 1, the lowest keepalived allows, so any peer
 * that holds the state outranks it.
 */
export function demotedOffset(priority: number): number {
  return 1 - priority;
}

/** Whether a VirtualAddress has a handover gate (waits for the master's state before taking the role). */
export function hasGate(vip: ResourceOf<'VirtualAddress'>): boolean {
  return vip.spec.handover.waitForState;
}

export function vipNameFromInstance(instance: string): string | undefined {
  return instance.startsWith('routerd_') ? instance.slice('routerd_'.length).replace(/_/g, '-') : undefined;
}

export function renderKeepalivedConf(input: KeepalivedInput): string {
  const lines: string[] = [
    '# Rendered by routerd; edits are overwritten.',
    'global_defs {',
    `router_id ${input.routerId}`,
    // VRRPv3 so that sub-second advert_int is honoured (v2 rounds it to 1 s).
    'vrrp_version 3',
    `notify_fifo ${input.paths.notifyFifo}`,
    'vrrp_garp_master_delay 1',
    'vrrp_garp_master_repeat 3',
    'vrrp_garp_master_refresh 60',
    '}',
  ];
  const vips = [...input.virtualAddresses].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const gateFile = input.paths.gateFile;
  if (gateFile)
    for (const vip of vips.filter(hasGate)) {
      // The file holds a priority offset (weight 1). routerd writes it before
      // keepalived starts; init_file covers a missing file (demoted, never overwritten).
      lines.push(
        `track_file ${gateTrackName(vip.metadata.name)} {`,
        `file "${gateFile(vip.metadata.name)}"`,
        'weight 1',
        `init_file ${demotedOffset(vip.spec.priority)}`,
        '}',
      );
    }
  for (const vip of vips) lines.push(...renderInstance(vip, input.ifname, gateFile !== undefined && hasGate(vip)));
  return `${lines.join('\n')}\n`;
}

function renderInstance(vip: ResourceOf<'VirtualAddress'>, ifname: (n: string) => string, gated: boolean): string[] {
  const s = vip.spec;
  const dev = ifname(s.interface);
  const advertMs = parseDuration(s.advertInterval) ?? 1000;
  const out = [
    `vrrp_instance ${instanceName(vip.metadata.name)} {`,
    // Every router starts as BACKUP; priority decides, and nopreempt needs BACKUP.
    'state BACKUP',
    `interface ${dev}`,
    `virtual_router_id ${s.virtualRouterId}`,
    `priority ${s.priority}`,
    // VRRPv3 counts in centiseconds.
    `advert_int ${Math.max(1, Math.round(advertMs / 10)) / 100}`,
  ];
  if (!s.preempt) out.push('nopreempt');
  else if (s.preemptDelay !== undefined) out.push(`preempt_delay ${(parseDuration(s.preemptDelay) ?? 0) / 1000}`);
  if (gated) out.push('track_file {', gateTrackName(vip.metadata.name), '}');
  if (s.peers && s.peers.length > 0) {
    out.push('unicast_peer {');
    for (const p of s.peers) out.push(p);
    out.push('}');
  }
  out.push('virtual_ipaddress {', `${s.address} dev ${dev}`, '}');
  if (s.extraAddresses.length > 0) {
    // Excluded addresses move with the role but are not in the adverts, so
    // they may be of another family or on another link.
    out.push('virtual_ipaddress_excluded {');
    for (const x of s.extraAddresses) out.push(`${x.address} dev ${ifname(x.interface)}`);
    out.push('}');
  }
  out.push('}');
  return out;
}

export function vipFamily(vip: ResourceOf<'VirtualAddress'>): 4 | 6 {
  const p = parseCidr(vip.spec.address);
  return typeof p === 'string' ? 4 : p.family;
}
