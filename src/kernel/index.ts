// The kernel layer: argv builders for ip, nft, conntrack and sysctl, and the
// only parsers of their output.
export * from './conntrack.ts';
export * from './conntrack-batch.ts';
export * from './ct-delete.ts';
export * from './ct-dump.ts';
export * from './nft-owned.ts';
export * from './ip.ts';
export * from './nft.ts';
export * from './sysctl.ts';
export * from './netlink-sockets.ts';
