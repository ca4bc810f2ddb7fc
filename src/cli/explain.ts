// `routerctl explain KIND[.field...]`: one field of a kind at a time, with its
// type, default, allowed values and docs, and the fields below it; `status`
// lists what the daemon reports and `spec.when` can test.
import type { Command} from 'commander';
import { CommanderError } from 'commander';
import { z } from 'zod';
import type { Kind } from '../api/kinds.ts';
import { KINDS, resourceSchema, statusFieldsOf } from '../controllers/kinds.ts';
import { Exit } from './exit.ts';
import { resolveKind } from './kind-ref.ts';
import { outputOption, print, type Output } from './output.ts';
import { COMMON_STATUS_DOCS, STATUS_DOCS, type StatusFieldDoc } from './status-fields.ts';
import { renderTable } from './table.ts';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  minimum?: number;
  maximum?: number;
  pattern?: string;
}

export interface FieldLine {
  readonly name: string;
  readonly type: string;
  readonly required: boolean;
  readonly default?: unknown;
  readonly values?: readonly string[];
  readonly description?: string;
}

export interface Explanation {
  readonly kind: Kind;
  readonly field: string;
  readonly type: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly values?: readonly string[];
  readonly fields: readonly FieldLine[];
}

const usage = (message: string) => new CommanderError(Exit.Usage, 'routerctl.usage', message);

function deref(root: JsonSchema, s: JsonSchema): JsonSchema {
  let cur = s;
  for (let hops = 0; cur.$ref && hops < 10; hops++) {
    const name = cur.$ref.replace(/^#\/\$defs\//, '');
    const target = root.$defs?.[name];
    if (!target) break;
    const { $ref: _ref, ...rest } = cur;
    cur = { ...target, ...rest };
  }
  return cur;
}

/** The alternative to descend into: the one with properties or items. */
function structural(root: JsonSchema, s: JsonSchema): JsonSchema {
  const d = deref(root, s);
  const alts = d.anyOf ?? d.oneOf;
  if (!alts) return d;
  const pick = alts.map((a) => deref(root, a)).find((a) => a.properties || a.items) ?? d;
  return { ...pick, description: d.description ?? pick.description, default: d.default ?? pick.default };
}

function typeOf(root: JsonSchema, s: JsonSchema): string {
  const d = deref(root, s);
  const alts = d.anyOf ?? d.oneOf;
  if (alts) return [...new Set(alts.map((a) => typeOf(root, a)))].join(' | ');
  if (d.const !== undefined) return JSON.stringify(d.const);
  const t = Array.isArray(d.type) ? d.type.join(' | ') : (d.type ?? 'any');
  if (t === 'array' && d.items) return `${typeOf(root, d.items)}[]`;
  if (t === 'object' && !d.properties && typeof d.additionalProperties === 'object') return `map of ${typeOf(root, d.additionalProperties)}`;
  return t;
}

function valuesOf(root: JsonSchema, s: JsonSchema): string[] | undefined {
  const d = deref(root, s);
  if (d.enum) return d.enum.map(String);
  const alts = d.anyOf ?? d.oneOf;
  if (alts) {
    const all = alts.flatMap((a) => valuesOf(root, a) ?? []);
    return all.length ? all : undefined;
  }
  return undefined;
}

function describe(root: JsonSchema, s: JsonSchema): string | undefined {
  const d = deref(root, s);
  return d.description ?? (d.type === 'array' && d.items ? deref(root, d.items).description : undefined);
}

function childrenOf(root: JsonSchema, s: JsonSchema): FieldLine[] {
  let d = structural(root, s);
  if (d.type === 'array' && d.items) d = structural(root, d.items);
  const required = new Set(d.required ?? []);
  return Object.entries(d.properties ?? {}).map(([name, p]) => {
    const pd = deref(root, p);
    return { name, type: typeOf(root, p), required: required.has(name), default: pd.default, values: valuesOf(root, p), description: describe(root, p) };
  });
}

function statusLine(name: string, doc: StatusFieldDoc): FieldLine {
  return { name, type: doc.type, required: false, values: doc.values, description: doc.doc };
}

function statusDoc(kind: Kind, field: string): StatusFieldDoc | undefined {
  return COMMON_STATUS_DOCS[field] ?? (STATUS_DOCS[kind] as Record<string, StatusFieldDoc>)[field];
}

export function explain(kindInput: string, path: readonly string[]): Explanation {
  const kind = resolveKind(kindInput);
  const root = z.toJSONSchema(resourceSchema(kind), { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const status = statusFieldsOf(kind).map((f) => statusLine(f, statusDoc(kind, f)!));
  const whenNote = `Read-only, reported by routerd. spec.when tests these as "${kind}/NAME.FIELD" with equals, notEquals, in or exists.`;
  if (path.length === 0) {
    return {
      kind,
      field: '',
      type: 'object',
      description: KINDS[kind].description,
      fields: [...childrenOf(root, root), { name: 'status', type: 'object', required: false, description: whenNote }],
    };
  }
  if (path[0] === 'status') {
    if (path.length === 1) return { kind, field: 'status', type: 'object', description: whenNote, fields: status };
    const doc = path.length === 2 ? statusDoc(kind, path[1]!) : undefined;
    if (!doc) throw usage(`${kind} has no status field "${path.slice(1).join('.')}"; status fields: ${statusFieldsOf(kind).join(', ')}`);
    return { kind, field: path.join('.'), type: doc.type, description: doc.doc, values: doc.values, fields: [] };
  }
  let node: JsonSchema = root;
  for (let i = 0; i < path.length; i++) {
    let d = structural(root, node);
    if (d.type === 'array' && d.items) d = structural(root, d.items);
    const next = d.properties?.[path[i]!];
    if (!next) {
      const known = Object.keys(d.properties ?? {});
      const at = path.slice(0, i).join('.') || kind;
      throw usage(`${at} has no field "${path[i]}"${known.length ? `; fields: ${known.join(', ')}` : ''}`);
    }
    node = next;
  }
  const d = deref(root, node);
  return { kind, field: path.join('.'), type: typeOf(root, node), description: describe(root, node), default: d.default, values: valuesOf(root, node), fields: childrenOf(root, node) };
}

function fmtDefault(v: unknown): string {
  return v === undefined ? '' : JSON.stringify(v);
}

export function formatExplanation(e: Explanation): string {
  const lines = [`KIND:     ${e.kind}`, `FIELD:    ${e.field || '(the resource)'} <${e.type}>`];
  if (e.default !== undefined) lines.push(`DEFAULT:  ${fmtDefault(e.default)}`);
  if (e.values?.length) lines.push(`VALUES:   ${e.values.join(', ')}`);
  if (e.description) lines.push('', 'DESCRIPTION:', `    ${e.description}`);
  if (e.fields.length) {
    lines.push('', 'FIELDS:');
    const rows = e.fields.map((f) => [
      `  ${f.name}`,
      `<${f.type}>${f.required ? ' required' : ''}`,
      [f.description, f.values?.length ? `Values: ${f.values.join(', ')}.` : '', f.default !== undefined ? `Default: ${fmtDefault(f.default)}.` : ''].filter(Boolean).join(' '),
    ]);
    lines.push(renderTable(['', '', ''], rows, { maxWidth: Math.max(100, Math.min(process.stdout.columns ?? 140, 200)) }).split('\n').slice(1).join('\n'));
  }
  return lines.join('\n');
}

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description('document one kind or field: type, default, allowed values, docs; KIND.status lists the status fields')
    .argument('<kind.field>', 'e.g. NAT44SessionSync, natsessionsync.spec.targets, VirtualAddress.status.role')
    .addOption(outputOption())
    .action((ref: string, flags: { output: Output }) => {
      const [kind, ...path] = ref.split('.');
      const e = explain(kind!, path.filter(Boolean));
      print(flags.output, e, () => formatExplanation(e));
    });
}
