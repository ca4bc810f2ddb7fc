// Where each resource came from, so any later error can name file:line:col.
import { isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from 'yaml';
import type { Position } from '../api/errors.ts';

export interface ResourceSource {
  readonly file: string;
  readonly node: Node | null;
  readonly lineCounter: LineCounter;
}

export function positionOf(src: ResourceSource, offset: number | undefined): Position {
  if (offset === undefined) return { file: src.file, line: 1, col: 1 };
  const { line, col } = src.lineCounter.linePos(offset);
  return { file: src.file, line, col };
}

/**
 * Position of a field path inside a resource. `key: true` points at the key of
 * the last segment (for unknown fields); a path that does not exist (a missing
 * field) points at the deepest node that does.
 */
export function locate(src: ResourceSource, path: readonly PropertyKey[], opts: { key?: boolean } = {}): Position {
  let node: Node | null = src.node;
  let offset = node?.range?.[0];
  for (let i = 0; i < path.length && node; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (!item || !(item as Node).range) break;
      node = item as Node;
      offset = node.range?.[0];
    } else if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      const keyNode = pair.key as Node;
      if (last && opts.key) {
        offset = keyNode.range?.[0];
        break;
      }
      if (!pair.value || !isNodeLike(pair.value)) {
        offset = keyNode.range?.[0];
        break;
      }
      node = pair.value;
      offset = node.range?.[0] ?? keyNode.range?.[0];
    } else break;
  }
  return positionOf(src, offset);
}

function isNodeLike(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && 'range' in v;
}
