import { createHash } from 'node:crypto';

/** A short content digest (sha256, 16 hex digits): enough to tell two rendered configs or specs apart. */
export function shortDigest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
