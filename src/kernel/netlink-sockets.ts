// Netlink sockets of one process and the kernel's drop counts for them, from
// /proc/net/netlink (read in the process's network namespace) and the
// process's socket fds. Reliable ctnetlink event delivery (conntrackd's
// NetlinkEventsReliable) sets NETLINK_NO_ENOBUFS, so the listener never learns
// that the kernel could not deliver an event; the kernel still counts it in the
// socket's Drops column. Used to see events conntrackd missed.

/** NETLINK_NETFILTER (ctnetlink), the Eth column of /proc/net/netlink. */
export const NETLINK_NETFILTER = 12;

export interface NetlinkSocket {
  readonly protocol: number;
  readonly portid: number;
  /** Multicast groups bitmap (the first 32), as printed (hex). */
  readonly groups: number;
  readonly drops: number;
  readonly inode: number;
}

/** `cat /proc/net/netlink`; lines that do not parse are skipped. */
export function parseProcNetNetlink(text: string): NetlinkSocket[] {
  const out: NetlinkSocket[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
    if (f.length < 10 || !/^[0-9a-f]+$/.test(f[0]!) || !/^\d+$/.test(f[1]!)) continue;
    const nums = [f[1], f[2], f[8], f[9]].map((x) => (x && /^\d+$/.test(x) ? Number(x) : NaN));
    const groups = /^[0-9a-f]{1,8}$/.test(f[3]!) ? Number.parseInt(f[3]!, 16) : NaN;
    if (nums.some((n) => Number.isNaN(n)) || Number.isNaN(groups)) continue;
    out.push({ protocol: nums[0]!, portid: nums[1]!, groups, drops: nums[2]!, inode: nums[3]! });
  }
  return out;
}

/** argv listing the socket inodes a process holds: one `socket:[INODE]` per line. */
export function socketFdsArgv(pid: number): string[] {
  if (!Number.isInteger(pid) || pid <= 1) throw new TypeError(`invalid pid ${pid}`);
  return ['find', `/proc/${pid}/fd`, '-mindepth', '1', '-maxdepth', '1', '-lname', 'socket:*', '-printf', '%l\\n'];
}

export function parseSocketInodes(text: string): Set<number> {
  const out = new Set<number>();
  for (const m of text.matchAll(/socket:\[(\d+)\]/g)) out.add(Number(m[1]));
  return out;
}

/** Drops the kernel counted on the ctnetlink sockets with multicast groups (event listeners) among `inodes`. */
export function eventSocketDrops(sockets: readonly NetlinkSocket[], inodes: ReadonlySet<number>): number | undefined {
  const mine = sockets.filter((s) => s.protocol === NETLINK_NETFILTER && s.groups !== 0 && inodes.has(s.inode));
  return mine.length ? mine.reduce((a, s) => a + s.drops, 0) : undefined;
}
