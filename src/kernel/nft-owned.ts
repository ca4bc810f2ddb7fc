// Tables routerd owns carry a digest in their comment. `nft -j` (1.0.6) leaves
// table comments out of its JSON, so the digest is read from the text listing.
import type { NftFamily } from './nft.ts';

export function nftListTableTextArgv(fam: NftFamily, name: string): string[] {
  return ['nft', 'list', 'table', fam, name];
}

/** The table's own comment (the first `comment` line directly inside `table ... {`). */
export function parseTableComment(listing: string): string | undefined {
  const lines = listing.split('\n');
  const open = lines.findIndex((l) => /^table \S+ \S+ \{$/.test(l.trim()));
  if (open < 0) return undefined;
  const next = lines[open + 1]?.trim();
  const m = next ? /^comment "(.*)"$/.exec(next) : null;
  return m ? m[1] : undefined;
}
