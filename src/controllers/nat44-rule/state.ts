// What routerd last applied for NAT44Rules, kept under the state dir: the
// addresses it managed (so flows on an address that was removed are still
// judged after a restart) and whether a flow cleanup is still owed.
import { join } from 'node:path';
import type { NodePaths } from '../../api/paths.ts';
import type { ResolvedNatRule } from '../../engines/nft/nat.ts';
import type { Host } from '../../host/host.ts';

export interface AppliedNatState {
  readonly digest: string;
  readonly rules: readonly ResolvedNatRule[];
  /** Every address the rules translated to, masquerade's live ones included. */
  readonly addresses: readonly string[];
  readonly appliedAt: string;
  /** The flow cleanup after this apply did not finish; the next pass retries it. */
  readonly cleanupPending?: boolean;
}

export function natStatePath(p: NodePaths): string {
  return join(p.stateDir, 'nat44-rule', 'applied.json');
}

export async function readNatState(host: Host, p: NodePaths): Promise<AppliedNatState | undefined> {
  const text = await host.readFile(natStatePath(p)).catch(() => undefined);
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as AppliedNatState;
    return typeof v.digest === 'string' && Array.isArray(v.rules) && Array.isArray(v.addresses) ? v : undefined;
  } catch {
    return undefined;
  }
}

export async function writeNatState(host: Host, p: NodePaths, s: AppliedNatState): Promise<void> {
  await host.writeFileAtomic(natStatePath(p), `${JSON.stringify(s, null, 2)}\n`, 0o644);
}
