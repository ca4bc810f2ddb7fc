// FakeKernel: the state a router's commands change, for unit tests without
// root. nftables tables (their text and the digest in their comment), the
// conntrack table and the links answer the commands routerd issues and change
// when they are applied, so a test can run a controller twice and see what
// the second pass does, or walk a sequence of configs and check where the
// host ends up. Processes live in FakeHost itself.
import { isIP } from 'node:net';
import { parseConntrackExtended, snatAddress } from './conntrack.ts';
import type { FakeHost, FakeReply } from '../host/fake.ts';

export interface FakeLink {
  readonly name: string;
  up: boolean;
  addresses: string[];
}

interface FakeTable {
  readonly family: string;
  readonly name: string;
  readonly text: string;
  /** Each set's or map's elements: key → value (maps), or comment (routerd_state), or undefined. */
  readonly elements: Map<string, { readonly kind: 'set' | 'map'; readonly items: Map<string, string | undefined> }>;
}

const META = { metainfo: { version: '1.0.6', release_name: 'fake', json_schema_version: 1 } };

export class FakeKernel {
  readonly links = new Map<string, FakeLink>();
  /** "ip routerd_nat" → the table as last applied. */
  readonly tables = new Map<string, FakeTable>();
  /** Flows, one `conntrack -L -o extended` line each. */
  flows: string[] = [];

  constructor(links: Record<string, readonly string[]> = {}) {
    for (const [name, addresses] of Object.entries(links)) this.links.set(name, { name, up: true, addresses: [...addresses] });
  }

  /** Answer the host's commands from this state (later host.on rules still win). */
  attach(host: FakeHost): FakeHost {
    return host
      .on(['ip', '-j', 'addr', 'show'], () => ({ stdout: this.ipAddrJson() }))
      .on(['nft', '-j', 'list', 'chains'], () => ({ stdout: this.objectsJson('chain') }))
      .on(['nft', '-j', '-t', 'list', 'sets'], () => ({ stdout: this.objectsJson('set') }))
      .on(['nft', 'list', 'table'], (argv) => this.listTable(argv[3]!, argv[4]!))
      .on(['nft', '-j', 'list', 'table'], (argv) => this.listTableJson(argv[4]!, argv[5]!))
      .on(['nft', '-j', 'list', 'set'], (argv) => this.listSetJson(argv[4]!, argv[5]!, argv[6]!))
      .on(['nft', '-f', '-'], (_argv, stdin) => this.applyNft(stdin ?? ''))
      .on(['conntrack', '-C'], () => ({ stdout: `${this.flows.length}\n` }))
      .on(['conntrack', '-L'], (argv) => ({ stdout: this.dump(argv) }))
      .onSpawn(['conntrack', '-L'], (argv) => ({ stdout: this.dump(argv) }))
      .on(['conntrack', '-D', '--src-nat'], (argv) => this.deleteBySnat(argv[3]!))
      .on(['conntrack', '-R'], (_argv, stdin) => this.restore(stdin ?? ''))
      .on(['mkfifo'], (argv) => {
        host.files.set(argv[argv.length - 1]!, '');
        return {};
      });
  }

  /** The digest stamped in a table's comment, if the table is there. */
  digestOf(key: string): string | undefined {
    return /^\tcomment "routerd:([0-9a-f]+)"$/m.exec(this.tables.get(key)?.text ?? '')?.[1];
  }

  private ipAddrJson(): string {
    return JSON.stringify(
      [...this.links.values()].map((l, i) => ({
        ifindex: i + 1,
        ifname: l.name,
        flags: l.up ? ['BROADCAST', 'UP', 'LOWER_UP'] : ['BROADCAST'],
        operstate: l.up ? 'UP' : 'DOWN',
        addr_info: l.addresses.map((a) => {
          const [local, len] = a.split('/');
          return { family: isIP(local!) === 6 ? 'inet6' : 'inet', local, prefixlen: Number(len ?? (isIP(local!) === 6 ? 128 : 32)) };
        }),
      })),
    );
  }

  private objectsJson(kind: 'chain' | 'set'): string {
    const objects = [...this.tables.values()].flatMap((t) => {
      const names = [...t.text.matchAll(kind === 'chain' ? /^\tchain (\S+) \{$/gm : /^\t(?:set|map) (\S+) \{$/gm)].map((m) => m[1]!);
      return names.map((name) => ({ [kind]: { family: t.family, table: t.name, name } }));
    });
    return JSON.stringify({ nftables: [META, ...objects] });
  }

  private listTable(family: string, name: string): FakeReply {
    const t = this.tables.get(`${family} ${name}`);
    if (!t) return { code: 1, stderr: `Error: No such file or directory\nlist table ${family} ${name}\n` };
    return { stdout: t.text.endsWith('\n') ? t.text : `${t.text}\n` };
  }

  /**
   * One `nft -f -` transaction, as routerd writes them: whole tables
   * (`table F N { ... }`) replace the table, `delete table F N` removes it; a
   * bare `table F N` declaration only makes the delete valid.
   */
  private applyNft(script: string): FakeReply {
    const next = new Map([...this.tables].map(([k, t]) => [k, { ...t, elements: new Map([...t.elements].map(([n, c]) => [n, { kind: c.kind, items: new Map(c.items) }])) }]));
    const lines = script.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const del = /^delete table (\S+) (\S+)$/.exec(line);
      if (del) {
        next.delete(`${del[1]} ${del[2]}`);
        continue;
      }
      const el = /^(add|delete) element (\S+) (\S+) (\S+) \{ (.*) \}$/.exec(line);
      if (el) {
        const c = next.get(`${el[2]} ${el[3]}`)?.elements.get(el[4]!);
        if (!c) return { code: 1, stderr: `Error: No such file or directory\n${line}\n` };
        for (const [k, v] of parseItems(el[5]!)) {
          if (el[1] === 'add') c.items.set(k, v);
          else c.items.delete(k);
        }
        continue;
      }
      const open = /^table (\S+) (\S+) \{$/.exec(line);
      if (!open) continue;
      let depth = 0;
      let end = i;
      for (; end < lines.length; end++) {
        depth += (lines[end]!.match(/\{/g) ?? []).length - (lines[end]!.match(/\}/g) ?? []).length;
        if (depth === 0) break;
      }
      if (end >= lines.length) return { code: 1, stderr: `Error: syntax error, unexpected end of file\n` };
      const block = lines.slice(i, end + 1);
      next.set(`${open[1]} ${open[2]}`, { family: open[1]!, name: open[2]!, text: block.join('\n'), elements: containersOf(block) });
      i = end;
    }
    this.tables.clear();
    for (const [k, v] of next) this.tables.set(k, v);
    return {};
  }

  private listTableJson(family: string, name: string): FakeReply {
    const t = this.tables.get(`${family} ${name}`);
    if (!t) return { code: 1, stderr: `Error: No such file or directory\n` };
    const items = [...t.elements].map(([n, c]) => {
      const elem = [...c.items].map(([k, v]) =>
        c.kind === 'map' ? [{ elem: { val: k, counter: { packets: 0, bytes: 0 } } }, v] : v === undefined ? k : { elem: { val: Number(k), comment: v } },
      );
      return { [c.kind]: { family, name: n, table: name, type: 'ipv4_addr', elem } };
    });
    return { stdout: JSON.stringify({ nftables: [META, { table: { family, name } }, ...items] }) };
  }

  private listSetJson(family: string, table: string, set: string): FakeReply {
    const c = this.tables.get(`${family} ${table}`)?.elements.get(set);
    if (!c) return { code: 1, stderr: `Error: No such file or directory\n` };
    const elem = [...c.items].map(([k, v]) => (v === undefined ? Number(k) : { elem: { val: Number(k), comment: v } }));
    return { stdout: JSON.stringify({ nftables: [META, { set: { family, name: set, table, type: 'inet_service', elem } }] }) };
  }

  private dump(argv: readonly string[]): string {
    const i = argv.indexOf('--src-nat');
    const want = i >= 0 ? argv[i + 1] : undefined;
    return this.flows.filter((l) => want === undefined || this.snatOf(l) === want).map((l) => `${l}\n`).join('');
  }

  private snatOf(line: string): string | undefined {
    const e = parseConntrackExtended(line).entries[0];
    return e ? snatAddress(e) : undefined;
  }

  private deleteBySnat(addr: string): FakeReply {
    const before = this.flows.length;
    this.flows = this.flows.filter((l) => this.snatOf(l) !== addr);
    const n = before - this.flows.length;
    return { code: n ? 0 : 1, stderr: `conntrack v1.4.7 (conntrack-tools): ${n} flow entries have been deleted.\n` };
  }

  /** `conntrack -R`: the `-D --src-nat A [-s CIDR]` lines routerd writes to drop flows, and the `-A` lines a sync restores (conntrack-lines.ts). */
  private restore(text: string): FakeReply {
    for (const line of text.split('\n')) {
      const add = /^-A -p (tcp|udp) -s (\S+) -d (\S+) --sport (\d+) --dport (\d+) --src-nat (\S+):(\d+) -t (\d+)(?: -u (\S+))?(?: --state (\S+))? -m (\d+)$/.exec(line.trim());
      if (add) {
        const [, proto, src, dst, sport, dport, snat, nport, timeout, status, state, mark] = add;
        const flags = status?.includes('ASSURED') ? ' [ASSURED]' : '';
        this.flows.push(
          `ipv4     2 ${proto} ${proto === 'tcp' ? 6 : 17} ${timeout}${state ? ` ${state}` : ''} src=${src} dst=${dst} sport=${sport} dport=${dport} src=${dst} dst=${snat} sport=${dport} dport=${nport}${flags} mark=${mark} use=1`,
        );
        continue;
      }
      const m = /^-D --src-nat (\S+)(?: -s (\S+))?$/.exec(line.trim());
      if (!m) continue;
      const [, addr, cidr] = m;
      this.flows = this.flows.filter((l) => this.snatOf(l) !== addr || (cidr !== undefined && !inCidr(/src=(\S+)/.exec(l)?.[1] ?? '', cidr)));
    }
    return {};
  }
}

/** The sets and maps of a table block, with their `elements = { ... }`. */
function containersOf(block: readonly string[]): FakeTable['elements'] {
  const out: FakeTable['elements'] = new Map();
  let current: { kind: 'set' | 'map'; items: Map<string, string | undefined> } | undefined;
  for (const line of block) {
    const open = /^\t(set|map) (\S+) \{$/.exec(line);
    if (open) out.set(open[2]!, (current = { kind: open[1] as 'set' | 'map', items: new Map() }));
    else if (line === '\t}') current = undefined;
    const els = /^\t\telements = \{ (.*) \}$/.exec(line);
    if (els && current) for (const [k, v] of parseItems(els[1]!)) current.items.set(k, v);
  }
  return out;
}

/** `a : b, c : d` (map), `a, b` (set), `0 comment "x"` (commented). */
function parseItems(text: string): [string, string | undefined][] {
  return text.split(', ').map((item) => {
    const commented = /^(\S+) comment "(.*)"$/.exec(item);
    if (commented) return [commented[1]!, commented[2]!];
    const [k, v] = item.split(' : ');
    return [k!, v];
  });
}

function inCidr(ip: string, cidr: string): boolean {
  const [net, len] = cidr.split('/');
  const bits = Number(len ?? 32);
  const toInt = (a: string) => a.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (toInt(ip) & mask) === (toInt(net!) & mask);
}
