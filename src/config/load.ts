// YAML text → typed resources, with every error located at file:line:col.
// A file is either a YAML list of resources (the seeds' form) or a stream of
// documents, each a resource or a list of them.
import { open } from 'node:fs/promises';
import { LineCounter, isAlias, isMap, isSeq, parseAllDocuments, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { ErrorCode, compareErrors, formatPath, type ConfigError } from '../api/errors.ts';
import { resourceId, type AnyResource } from '../api/kinds.ts';
import { KIND_NAMES, isKind, resourceSchema } from '../controllers/kinds.ts';
import { API_VERSION } from '../api/primitives.ts';
import { locate, positionOf, type ResourceSource } from './source.ts';

export interface LoadedResource {
  readonly resource: AnyResource;
  readonly source: ResourceSource;
}

export interface LoadResult {
  readonly resources: LoadedResource[];
  readonly errors: ConfigError[];
  /** Kind/name of resources that failed validation: they exist, so references to them are not dangling. */
  readonly invalidIds: ReadonlySet<string>;
}

/** A router's config is kilobytes; anything this large is a mistake, refused before parsing. */
export const MAX_CONFIG_BYTES = 2 * 1024 * 1024;
export const MAX_RESOURCES = 1000;
/** Deeper than any kind's schema goes (when trees included). */
const MAX_DEPTH = 40;
/** Core YAML tags; any other (`!foo`, `!!binary`, `!!set`) is refused rather than silently read as a string. */
const CORE_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));
/** C0 and C1 controls, DEL, line/paragraph separators and bidi overrides: never meaningful in a config value. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
// eslint-disable-next-line no-control-regex -- the same set, to escape each one for display
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export async function loadFile(file: string): Promise<LoadResult> {
  let text: string;
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      if (size > MAX_CONFIG_BYTES) return { resources: [], errors: [tooLarge(file, size)], invalidIds: new Set() };
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    return {
      resources: [],
      errors: [{ code: ErrorCode.FileNotFound, file, line: 1, col: 1, message: `cannot read ${file}: ${why}` }],
      invalidIds: new Set(),
    };
  }
  return parseConfigText(text, file);
}

function tooLarge(file: string, size: number): ConfigError {
  return { code: ErrorCode.TooLarge, file, line: 1, col: 1, message: `${file} is ${size} bytes; a config may be at most ${MAX_CONFIG_BYTES} bytes (is this the right file?)` };
}

/** Aliases and non-core tags, each located: refused, so what is validated is exactly what was written. */
function unsupportedYaml(doc: Document, file: string, lineCounter: LineCounter): ConfigError[] {
  const out: ConfigError[] = [];
  const at = (pos: number | undefined) => {
    const { line, col } = lineCounter.linePos(pos ?? 0);
    return { file, line, col };
  };
  visit(doc, {
    Node(_key, node) {
      if (isAlias(node)) out.push({ code: ErrorCode.YamlUnsupported, ...at(node.range?.[0]), message: `YAML alias *${node.source} is not supported; write the value out where it is used` });
      else if (node.tag && !CORE_TAGS.has(node.tag)) out.push({ code: ErrorCode.YamlUnsupported, ...at(node.range?.[0]), message: `YAML tag ${node.tag.replace(/^tag:yaml.org,2002:/, '!!')} is not supported; remove it` });
    },
    Pair(_key, pair) {
      if (isMap(pair.key) || isSeq(pair.key)) out.push({ code: ErrorCode.YamlUnsupported, ...at((pair.key as Node).range?.[0]), message: 'a mapping or list as a key is not supported' });
    },
  });
  return out;
}

export function parseConfigText(text: string, file: string): LoadResult {
  if (text.length > MAX_CONFIG_BYTES) return { resources: [], errors: [tooLarge(file, Buffer.byteLength(text))], invalidIds: new Set() };
  const lineCounter = new LineCounter();
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  } catch (e) {
    // A pathological nesting depth overflows the parser's stack.
    return { resources: [], errors: [{ code: ErrorCode.YamlSyntax, file, line: 1, col: 1, message: `cannot parse: ${(e as Error).message}` }], invalidIds: new Set() };
  }
  if (!Array.isArray(docs)) docs = [docs];
  const errors: ConfigError[] = [];
  const items: ResourceSource[] = [];
  for (const doc of docs) {
    for (const e of [...doc.errors, ...doc.warnings.filter((w) => w.code === 'DUPLICATE_KEY')]) {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      errors.push({ code: ErrorCode.YamlSyntax, file, line, col, message: oneLine(e.message) });
    }
    if (doc.errors.length > 0) continue;
    const unsupported = unsupportedYaml(doc, file, lineCounter);
    if (unsupported.length > 0) {
      errors.push(...unsupported);
      continue;
    }
    const root = doc.contents as Node | null;
    if (root === null) continue;
    if (isSeq(root)) for (const item of root.items) items.push({ file, node: item as Node, lineCounter });
    else items.push({ file, node: root, lineCounter });
  }
  if (items.length > MAX_RESOURCES) {
    const { line, col } = positionOf(items[MAX_RESOURCES]!, items[MAX_RESOURCES]!.node?.range?.[0]);
    errors.push({ code: ErrorCode.TooLarge, file, line, col, message: `${items.length} resources; a config may hold at most ${MAX_RESOURCES}` });
  }
  if (errors.length > 0) return { resources: [], errors: errors.sort(compareErrors), invalidIds: new Set() };

  const resources: LoadedResource[] = [];
  const firstSeen = new Map<string, ResourceSource>();
  const invalidIds = new Set<string>();
  for (const source of items) {
    const loaded = parseResource(source, errors);
    if (!loaded) {
      const id = rawId(source.node);
      if (id) invalidIds.add(id);
      continue;
    }
    const id = resourceId(loaded);
    const prev = firstSeen.get(id);
    if (prev) {
      const p = positionOf(prev, prev.node?.range?.[0]);
      errors.push({
        code: ErrorCode.DuplicateName,
        ...locate(source, ['metadata', 'name']),
        resource: id,
        path: 'metadata.name',
        message: `${id} is defined twice (first at ${p.file}:${p.line}:${p.col})`,
      });
      continue;
    }
    firstSeen.set(id, source);
    resources.push({ resource: loaded, source });
  }
  return { resources, errors: errors.sort(compareErrors), invalidIds };
}

/** Strings (keys too) holding control characters, and nesting deeper than any schema. */
function controlCharacters(v: unknown, path: (string | number)[], depth: number): { path: (string | number)[]; message: string; depth?: true }[] {
  if (depth > MAX_DEPTH) return [{ path, message: `nested more than ${MAX_DEPTH} levels deep`, depth: true }];
  // Shown escaped: the message must not carry the character to the terminal.
  const show = (s: string) => `"${(s.length > 40 ? `${s.slice(0, 40)}…` : s).replace(CONTROL_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).replace(/"/g, '\\"')}"`;
  if (typeof v === 'string') return CONTROL.test(v) ? [{ path, message: `${show(v)} contains a control character (NUL, newline, tab, escape, bidi override...); not allowed in any value` }] : [];
  if (Array.isArray(v)) return v.flatMap((x, i) => controlCharacters(x, [...path, i], depth + 1));
  if (v !== null && typeof v === 'object')
    return Object.entries(v).flatMap(([k, x]) =>
      CONTROL.test(k) ? [{ path, message: `key ${show(k)} contains a control character` }] : controlCharacters(x, [...path, k], depth + 1),
    );
  return [];
}

function rawId(node: Node | null): string | undefined {
  if (!node || !isMap(node)) return undefined;
  const raw = node.toJSON() as { kind?: unknown; metadata?: { name?: unknown } };
  return typeof raw.kind === 'string' && typeof raw.metadata?.name === 'string' ? `${raw.kind}/${raw.metadata.name}` : undefined;
}

function parseResource(source: ResourceSource, errors: ConfigError[]): AnyResource | undefined {
  const node = source.node;
  const here = positionOf(source, node?.range?.[0]);
  if (!node || !isMap(node)) {
    errors.push({ code: ErrorCode.NotAResource, ...here, message: 'expected a resource (a mapping with apiVersion, kind, metadata, spec)' });
    return undefined;
  }
  const raw = node.toJSON() as Record<string, unknown>;
  const label0 = rawId(node) ?? '?/?';
  const bad = controlCharacters(raw, [], 0);
  if (bad.length > 0) {
    for (const b of bad) errors.push({ code: b.depth ? ErrorCode.TooLarge : ErrorCode.ControlCharacter, ...locate(source, b.path), resource: label0, path: formatPath(b.path), message: b.message });
    return undefined;
  }
  const name = typeof (raw.metadata as Record<string, unknown> | undefined)?.name === 'string' ? String((raw.metadata as Record<string, unknown>).name) : undefined;
  const kindText = typeof raw.kind === 'string' ? raw.kind : undefined;
  const label = `${kindText ?? '?'}/${name ?? '?'}`;
  if (raw.apiVersion !== API_VERSION) {
    errors.push({
      code: raw.apiVersion === undefined ? ErrorCode.MissingField : ErrorCode.ApiVersion,
      ...locate(source, ['apiVersion']),
      resource: label,
      path: 'apiVersion',
      message:
        raw.apiVersion === undefined
          ? `apiVersion is missing (use ${API_VERSION})`
          : `apiVersion "${String(raw.apiVersion)}" is not supported (use ${API_VERSION})`,
    });
    return undefined;
  }
  if (kindText === undefined || !isKind(kindText)) {
    const hint = kindText ? closest(kindText, KIND_NAMES) : undefined;
    errors.push({
      code: kindText === undefined ? ErrorCode.MissingField : ErrorCode.UnknownKind,
      ...locate(source, ['kind']),
      resource: label,
      path: 'kind',
      message:
        kindText === undefined
          ? 'kind is missing'
          : `unknown kind "${kindText}"${hint ? ` (did you mean ${hint}?)` : ''}; known kinds: ${KIND_NAMES.join(', ')}`,
    });
    return undefined;
  }
  const result = resourceSchema(kindText).safeParse(raw);
  if (result.success) return result.data as AnyResource;
  for (const issue of result.error.issues) errors.push(...issueToErrors(issue, source, label, raw));
  return undefined;
}

function issueToErrors(issue: z.core.$ZodIssue, source: ResourceSource, resource: string, raw: unknown): ConfigError[] {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeysAt(raw, path);
    return issue.keys.map((key) => {
      const hint = allowed ? closest(key, allowed) : undefined;
      return {
        code: ErrorCode.UnknownField,
        ...locate(source, [...path, key], { key: true }),
        resource,
        path: formatPath([...path, key]),
        message: `unknown field "${key}"${hint ? ` (did you mean ${hint}?)` : ''}`,
      };
    });
  }
  const value = valueAt(raw, path);
  let code: ErrorCode;
  let message = issue.message;
  switch (issue.code) {
    case 'custom':
      code = (issue.params?.rdCode as ErrorCode | undefined) ?? ErrorCode.InvalidValue;
      break;
    case 'invalid_type':
      if (value === undefined) {
        code = ErrorCode.MissingField;
        message = `${String(path[path.length - 1] ?? 'field')} is required`;
      } else {
        code = ErrorCode.InvalidType;
        message = `expected ${issue.expected}, got ${describeValue(value)}`;
      }
      break;
    case 'too_small':
    case 'too_big':
      code = issue.origin === 'array' || issue.origin === 'string' ? ErrorCode.InvalidValue : ErrorCode.OutOfRange;
      message = rangeMessage(issue, value);
      break;
    case 'invalid_value':
      code = path[path.length - 1] === 'apiVersion' ? ErrorCode.ApiVersion : ErrorCode.InvalidValue;
      message = `${describeValue(value)} is not one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    default:
      code = ErrorCode.InvalidValue;
  }
  return [{ code, ...locate(source, path), resource, path: formatPath(path), message }];
}

function rangeMessage(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig, value: unknown): string {
  const small = issue.code === 'too_small';
  const bound = small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum;
  if (issue.origin === 'array') return small ? `needs at least ${bound} item(s)` : `takes at most ${bound} item(s)`;
  if (issue.origin === 'string') return small ? `must not be empty` : `is longer than ${bound} characters`;
  return `${describeValue(value)} is ${small ? 'below the minimum' : 'above the maximum'} ${bound}`;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

/** Known keys of the object at `path`, for "did you mean" hints: read from the schema. */
function allowedKeysAt(raw: unknown, path: readonly PropertyKey[]): string[] | undefined {
  const kind = (raw as { kind?: unknown }).kind;
  if (typeof kind !== 'string' || !isKind(kind)) return undefined;
  let schema: z.core.$ZodType | undefined = resourceSchema(kind);
  for (const seg of path) {
    schema = unwrap(schema);
    if (!schema) return undefined;
    const def = schema._zod.def as { type: string; shape?: Record<string, z.core.$ZodType>; element?: z.core.$ZodType };
    if (def.type === 'object' && def.shape && typeof seg === 'string') schema = def.shape[seg];
    else if (def.type === 'array' && typeof seg === 'number') schema = def.element;
    else return undefined;
  }
  const def = unwrap(schema)?._zod.def as { type: string; shape?: Record<string, unknown> } | undefined;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
}

function unwrap(schema: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  let s = schema;
  for (let i = 0; s && i < 10; i++) {
    const def = s._zod.def as { type: string; innerType?: z.core.$ZodType; getter?: () => z.core.$ZodType; in?: z.core.$ZodType };
    if (def.innerType) s = def.innerType;
    else if (def.type === 'lazy' && def.getter) s = def.getter();
    else if (def.type === 'pipe' && def.in) s = def.in;
    else return s;
  }
  return s;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

function oneLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

/** The candidate nearest to `word` by edit distance, if close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
