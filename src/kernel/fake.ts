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
      .on(['nft', '-f', '-'], (_argv, stdin) => this.applyNft(stdin ?? ''))
      .on(['conntrack', '-C'], () => ({ stdout: `${this.flows.length}\n` }))
      .on(['conntrack', '-L'], (argv) => ({ stdout: this.dump(argv) }))
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
    const next = new Map(this.tables);
    const lines = script.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const del = /^delete table (\S+) (\S+)$/.exec(line);
      if (del) {
        next.delete(`${del[1]} ${del[2]}`);
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
      next.set(`${open[1]} ${open[2]}`, { family: open[1]!, name: open[2]!, text: lines.slice(i, end + 1).join('\n') });
      i = end;
    }
    this.tables.clear();
    for (const [k, v] of next) this.tables.set(k, v);
    return {};
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

  /** `conntrack -R`: the `-D --src-nat A [-s CIDR]` lines routerd writes to drop flows. */
  private restore(text: string): FakeReply {
    for (const line of text.split('\n')) {
      const m = /^-D --src-nat (\S+)(?: -s (\S+))?$/.exec(line.trim());
      if (!m) continue;
      const [, addr, cidr] = m;
      this.flows = this.flows.filter((l) => this.snatOf(l) !== addr || (cidr !== undefined && !inCidr(/src=(\S+)/.exec(l)?.[1] ?? '', cidr)));
    }
    return {};
  }
}

function inCidr(ip: string, cidr: string): boolean {
  const [net, len] = cidr.split('/');
  const bits = Number(len ?? 32);
  const toInt = (a: string) => a.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (toInt(ip) & mask) === (toInt(net!) & mask);
}
