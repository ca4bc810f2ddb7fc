// SSH between every pair of routers of the N-router lab: the pair's mesh
// (sshd.ts) over the routers asked for.
import type { MultiLab, MultiRouter } from './multi.ts';
import { enableSshMesh } from './sshd.ts';

export interface MultiSsh {
  /** Start sshd again on a router (after it was killed with the router). */
  restart(r: MultiRouter): Promise<void>;
  stop(): Promise<void>;
}

export async function enableMultiSsh(lab: MultiLab, routers: readonly MultiRouter[] = lab.routers): Promise<MultiSsh> {
  const mesh = await enableSshMesh(routers.map((r) => lab.asLabNode(r)));
  return { restart: (r) => mesh.restart(lab.asLabNode(r)), stop: () => mesh.stop() };
}
