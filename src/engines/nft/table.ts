import { shortDigest } from '../../support/digest.ts';

export interface OwnedTable {
  readonly family: 'ip' | 'ip6' | 'inet';
  readonly name: string;
}

export const DIGEST_PREFIX = 'routerd:';

/**
 * Stamp a rendered table with the digest of its content, in the table's
 * comment: observing then needs one read to tell whether it is current.
 */
export function stampTable(text: string, table: OwnedTable): { text: string; digest: string } {
  const digest = shortDigest(text);
  const open = `table ${table.family} ${table.name} {`;
  const stamped = text.replace(`${open}\n`, `${open}\n\tcomment "${DIGEST_PREFIX}${digest}"\n`);
  return { text: stamped, digest };
}
