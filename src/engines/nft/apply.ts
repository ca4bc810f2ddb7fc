// Applying a routerd-owned table: the whole stamped text in one `nft -f -`
// transaction. A failure leaves the previous ruleset as it was.
import type { Host } from '../../host/host.ts';
import { nftApplyArgv, nftDeleteTableIfExistsScript, parseNftDiagnostics } from '../../kernel/nft.ts';
import type { OwnedTable } from './table.ts';

export type NftApplyResult = { readonly ok: true; readonly durationMs: number } | { readonly ok: false; readonly durationMs: number; readonly error: string };

export async function applyTable(host: Host, text: string): Promise<NftApplyResult> {
  const r = await host.run(nftApplyArgv(), { stdin: text, timeoutMs: 30_000 });
  if (r.code === 0) return { ok: true, durationMs: r.durationMs };
  const diags = parseNftDiagnostics(r.stderr);
  const error = diags.length ? diags.map((d) => `line ${d.line}: ${d.message}`).join('; ') : r.stderr.trim() || `nft exited ${r.code}`;
  return { ok: false, durationMs: r.durationMs, error };
}

export function removeTable(host: Host, table: OwnedTable): Promise<NftApplyResult> {
  return applyTable(host, nftDeleteTableIfExistsScript(table.family, table.name));
}
