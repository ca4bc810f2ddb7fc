// routerctl render KIND/NAME: the file routerd would hand an engine for one
// resource (keepalived.conf, the nft table, dnsmasq or dhcpcd config), from
// the same renderers the daemon uses, optionally checked by the engine itself.
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { resourceId, type AnyResource, type ResourceOf } from '../api/kinds.ts';
import { DEFAULT_CONFIG_PATH, desiredResources, loadDesired } from '../config/desired.ts';
import { DEFAULT_RUN_DIR, DEFAULT_STATE_DIR } from '../api/paths.ts';
import { dnsmasqConfFor } from '../controllers/dhcp-server/plan.ts';
import { desiredNatTable, resolveNatRule } from '../controllers/nat44-rule/resolve.ts';
import { planContext } from '../controllers/plan.ts';
import { keepalivedConfFor } from '../controllers/virtual-address/plan.ts';
import { renderDhcpcdConf } from '../engines/dhcpcd/render.ts';
import { LocalHost } from '../host/local.ts';
import { Exit } from './exit.ts';
import { formatErrors } from './format.ts';

export interface Rendered {
  readonly engine: 'keepalived' | 'nft' | 'dnsmasq' | 'dhcpcd';
  readonly text: string;
  /** argv that checks the file at PATH without applying it. */
  readonly check?: (path: string) => string[];
}

export function renderFor(r: AnyResource, all: readonly AnyResource[], nodeName: string): Rendered | string {
  const ctx = planContext(all, { paths: { runDir: DEFAULT_RUN_DIR, stateDir: DEFAULT_STATE_DIR }, nodeName }, new Map());
  switch (r.kind) {
    case 'VirtualAddress': {
      const vips = all.filter((x): x is ResourceOf<'VirtualAddress'> & AnyResource => x.kind === 'VirtualAddress');
      return { engine: 'keepalived', text: keepalivedConfFor(vips, ctx), check: (p) => ['keepalived', '--config-test', `--use-file=${p}`] };
    }
    case 'NAT44Rule': {
      const resolved = all.filter((x): x is ResourceOf<'NAT44Rule'> & AnyResource => x.kind === 'NAT44Rule').flatMap((x) => {
        const res = resolveNatRule(x, { files: new Map(), existing: new Set() }, ctx);
        return res.ok ? [res.rule] : [];
      });
      return { engine: 'nft', text: desiredNatTable(resolved).text, check: (p) => ['nft', '-c', '-f', p] };
    }
    case 'DHCPv4Server':
    case 'DHCPv6Server':
      return { engine: 'dnsmasq', text: dnsmasqConfFor(r, ctx).conf, check: (p) => ['dnsmasq', '--test', `--conf-file=${p}`] };
    case 'DHCPv6PrefixDelegation':
      return { engine: 'dhcpcd', text: renderDhcpcdConf(r, ctx.ifname(r.spec.interface)) };
    default:
      return `${resourceId(r)} has no engine file of its own (it is carried out by nft element updates or by routerd itself)`;
  }
}

export function registerRender(program: Command): void {
  program
    .command('render')
    .description('print the file routerd would give an engine for one resource (keepalived.conf, nft table, dnsmasq/dhcpcd config)')
    .argument('<resource>', 'Kind/name, e.g. VirtualAddress/lan-vip')
    .option('-f, --file <path>', 'config file (default: the node config)')
    .option('--node <name>', 'node name (VRRP router_id)', 'routerd')
    .option('--check', 'also run the engine\'s own check on it (keepalived --config-test, nft -c, dnsmasq --test)')
    .action(async (ref: string, flags: { file?: string; node: string; check?: boolean }) => {
      if (!/^[A-Za-z0-9]+\/[a-z0-9-]+$/.test(ref)) throw new CommanderError(Exit.Usage, 'routerctl.usage', `"${ref}" is not Kind/name`);
      const r = await loadDesired({ files: flags.file ? [flags.file] : [], basePath: DEFAULT_CONFIG_PATH, baseExplicit: !flags.file, replace: flags.file !== undefined });
      if (r.errors.length > 0) {
        process.stderr.write(`${formatErrors(r.errors)}\n`);
        process.exitCode = Exit.Failed;
        return;
      }
      const all = desiredResources(r.config);
      const res = all.find((x) => resourceId(x) === ref);
      if (!res) {
        process.stderr.write(`routerctl: ${ref} is not in ${r.files.join(', ')}\n`);
        process.exitCode = Exit.Failed;
        return;
      }
      const out = renderFor(res, all, flags.node);
      if (typeof out === 'string') {
        process.stderr.write(`routerctl: ${out}\n`);
        process.exitCode = Exit.Failed;
        return;
      }
      process.stdout.write(out.text.endsWith('\n') ? out.text : `${out.text}\n`);
      if (flags.check && out.check) {
        const dir = await mkdtemp(join(tmpdir(), 'routerd-render-'));
        try {
          const file = join(dir, `${out.engine}.conf`);
          await writeFile(file, out.text, { mode: 0o600 });
          const c = await new LocalHost().run(out.check(file), { timeoutMs: 15_000 });
          if (c.code === 0) process.stderr.write(`${out.engine}: the file passes its own check\n`);
          else {
            process.stderr.write(`${out.engine} refused it (exit ${c.code}):\n${c.stderr}${c.stdout}`);
            process.exitCode = Exit.Failed;
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
    });
}

/**
 * Every engine file the config renders, each checked by its engine (once per
 * distinct file). Returns the refusals, each naming the resource. Run it on
 * the router: keepalived checks that the interfaces exist.
 */
export async function checkEngineFiles(all: readonly AnyResource[], nodeName: string): Promise<string[]> {
  const seen = new Set<string>();
  const problems: string[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'routerd-check-'));
  try {
    for (const r of all) {
      const out = renderFor(r, all, nodeName);
      if (typeof out === 'string' || !out.check || seen.has(out.text)) continue;
      seen.add(out.text);
      const file = join(dir, `${out.engine}-${seen.size}.conf`);
      await writeFile(file, out.text, { mode: 0o600 });
      const c = await new LocalHost().run(out.check(file), { timeoutMs: 15_000 });
      if (c.code === 127) problems.push(`${resourceId(r)}: ${out.engine} is not installed here; its file was not checked`);
      else if (c.code !== 0) problems.push(`${resourceId(r)}: ${out.engine} refused the rendered file: ${(c.stderr || c.stdout).trim().split('\n').slice(0, 3).join(' | ')}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return problems;
}
