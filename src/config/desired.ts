// The desired config: the node's config file, with `-f` files merged over it
// (same Kind/name replaces) or, with --replace, the files alone.
import { access } from 'node:fs/promises';
import { ErrorCode, compareErrors, type ConfigError } from '../api/errors.ts';
import { resourceId, type AnyResource } from '../api/kinds.ts';
import { loadFile, type LoadedResource } from './load.ts';
import { positionOf } from './source.ts';
import { semanticWarnings } from './semantic.ts';
import { validateConfigSet } from './validate.ts';

export const DEFAULT_CONFIG_PATH = '/etc/routerd/router.yaml';

export interface DesiredConfig {
  readonly resources: readonly LoadedResource[];
  readonly byId: ReadonlyMap<string, LoadedResource>;
}

export interface DesiredResult {
  readonly config: DesiredConfig;
  readonly errors: ConfigError[];
  /** Things worth saying that are not errors (e.g. no base config). */
  readonly notes: string[];
  readonly files: string[];
}

export interface DesiredOptions {
  /** Files given with -f, in order. */
  readonly files: readonly string[];
  /** The node's config; merged under `files` unless `replace`. */
  readonly basePath?: string;
  /** Whether basePath was given explicitly (then it must exist). */
  readonly baseExplicit?: boolean;
  readonly replace?: boolean;
}

export async function loadDesired(opts: DesiredOptions): Promise<DesiredResult> {
  const notes: string[] = [];
  const errors: ConfigError[] = [];
  const layers: LoadedResource[][] = [];
  const files: string[] = [];
  const invalidIds = new Set<string>();
  const basePath = opts.basePath ?? DEFAULT_CONFIG_PATH;
  if (!opts.replace) {
    if (opts.baseExplicit || (await exists(basePath))) {
      const base = await loadFile(basePath);
      errors.push(...base.errors);
      base.invalidIds.forEach((id) => invalidIds.add(id));
      layers.push(base.resources);
      files.push(basePath);
    } else notes.push(`${basePath} does not exist; validating the given files alone`);
  }
  const fromFiles = new Map<string, LoadedResource>();
  for (const f of opts.files) {
    const r = await loadFile(f);
    errors.push(...r.errors);
    r.invalidIds.forEach((id) => invalidIds.add(id));
    files.push(f);
    for (const l of r.resources) {
      const id = resourceId(l.resource);
      const prev = fromFiles.get(id);
      if (prev) {
        const p = positionOf(prev.source, prev.source.node?.range?.[0]);
        const here = positionOf(l.source, l.source.node?.range?.[0]);
        errors.push({
          code: ErrorCode.DuplicateName,
          ...here,
          resource: id,
          path: 'metadata.name',
          message: `${id} is defined in two -f files (first at ${p.file}:${p.line}:${p.col})`,
        });
      } else fromFiles.set(id, l);
    }
  }
  layers.push([...fromFiles.values()]);
  const config = mergeLayers(layers);
  errors.push(...validateConfigSet(config.resources, invalidIds));
  if (errors.length === 0) notes.push(...semanticWarnings(config.resources));
  return { config, errors: errors.sort(compareErrors), notes, files };
}

/** Later layers replace resources of the same Kind/name; order is first appearance. */
export function mergeLayers(layers: readonly (readonly LoadedResource[])[]): DesiredConfig {
  const byId = new Map<string, LoadedResource>();
  for (const layer of layers) for (const l of layer) byId.set(resourceId(l.resource), l);
  return { resources: [...byId.values()], byId };
}

export function desiredResources(c: DesiredConfig): AnyResource[] {
  return c.resources.map((l) => l.resource);
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}
