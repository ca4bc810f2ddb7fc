// Kinds as operators type them: any case (`virtualaddress`), the controller
// name (`virtual-address`), and `Kind/name` references; a typo gets a
// "did you mean". Unknown input is a usage error (exit 2).
import { CommanderError } from 'commander';
import type { Kind } from '../api/kinds.ts';
import { KINDS, KIND_NAMES } from '../controllers/kinds.ts';
import { Exit } from './exit.ts';

const usage = (message: string) => new CommanderError(Exit.Usage, 'routerctl.usage', message);
const fold = (s: string) => s.toLowerCase().replace(/-/g, '');

/** Edit distance (insert, delete, substitute), for suggestions. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest kinds to a mistyped one (at most three, nearest first). */
export function suggestKinds(input: string): Kind[] {
  const f = fold(input);
  const scored = KIND_NAMES.map((k) => ({ k, d: Math.min(distance(f, fold(k)), fold(k).startsWith(f) && f.length >= 3 ? 1 : Infinity) }));
  const limit = Math.max(2, Math.floor(f.length / 3));
  return scored
    .filter((s) => s.d <= limit)
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map((s) => s.k);
}

export function findKind(input: string): Kind | undefined {
  const f = fold(input);
  return KIND_NAMES.find((k) => fold(k) === f || fold(KINDS[k].controller) === f);
}

/** The kind `input` names, or a usage error that lists the nearest kinds. */
export function resolveKind(input: string): Kind {
  const k = findKind(input);
  if (k) return k;
  const near = suggestKinds(input);
  throw usage(`unknown kind "${input}"${near.length ? `; did you mean ${near.join(' or ')}?` : ''} (known: ${KIND_NAMES.join(', ')})`);
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `Kind/name` with the kind resolved as above and the name checked. */
export function resolveRef(input: string): { kind: Kind; name: string } {
  const slash = input.indexOf('/');
  if (slash <= 0) throw usage(`"${input}" is not Kind/name (e.g. VirtualAddress/lan-vip)`);
  const name = input.slice(slash + 1);
  if (!NAME.test(name)) throw usage(`"${input}" is not Kind/name: "${name}" is not a resource name (lowercase letters, digits and "-")`);
  return { kind: resolveKind(input.slice(0, slash)), name };
}
