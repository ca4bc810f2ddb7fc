// routerctl: validate and plan configs; ask a running routerd for status.
import { hostname } from 'node:os';
import { Command, CommanderError } from 'commander';
import { z } from 'zod';
import { KINDS, KIND_NAMES, resourceSchema } from '../controllers/kinds.ts';
import { observeAndPlan } from '../controllers/plan.ts';
import { DEFAULT_CONFIG_PATH, desiredResources, loadDesired } from '../config/desired.ts';
import { DEFAULT_RUN_DIR, DEFAULT_STATE_DIR, socketPath } from '../api/paths.ts';
import { LocalHost } from '../host/local.ts';
import { apiGet, reportedStatuses, type ApiResource } from '../daemon/api-client.ts';
import { Exit } from './exit.ts';
import { registerCompletion } from './completion.ts';
import { registerExplain } from './explain.ts';
import { registerGet } from './get.ts';
import { formatDescribe, formatErrors, formatList, formatPlan } from './format.ts';
import { resolveKind, resolveRef } from './kind-ref.ts';
import { outputOption, print as printOutput, type Output } from './output.ts';
import { VERSION } from './version.ts';
import { registerApply } from './apply.ts';
import { registerReload } from './reload.ts';
import { checkEngineFiles, registerRender } from './render.ts';
import { validatePair } from './validate-pair.ts';
import { mergeChanges, planChanges } from '../controllers/changes.ts';
import { planExitCode, runningConfig } from './plan-changes.ts';

interface LoadFlags {
  file: string[];
  replace?: boolean;
  config?: string;
  output: Output;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function addLoadOptions(cmd: Command): Command {
  return cmd
    .option('-f, --file <path>', 'config file to apply (repeatable; merged over --config unless --replace)', collect, [])
    .option('--replace', 'the -f files are the whole desired config (ignore --config)')
    .option('--config <path>', `the node's current config (default ${DEFAULT_CONFIG_PATH})`)
    .addOption(outputOption());
}

function print(o: Output, data: unknown, text: string): void {
  printOutput(o, data, () => text);
}

async function load(flags: LoadFlags) {
  if (flags.replace && flags.file.length === 0) throw new CommanderError(Exit.Usage, 'routerctl.usage', '--replace needs at least one -f FILE');
  const result = await loadDesired({
    files: flags.file,
    basePath: flags.config ?? DEFAULT_CONFIG_PATH,
    baseExplicit: flags.config !== undefined || flags.file.length === 0,
    replace: flags.replace ?? false,
  });
  for (const n of result.notes) process.stderr.write(`note: ${n}\n`);
  return result;
}

function socketOf(flags: { socket?: string; runDir?: string }): string {
  return flags.socket ?? socketPath({ runDir: flags.runDir ?? DEFAULT_RUN_DIR, stateDir: DEFAULT_STATE_DIR });
}

export function buildRouterctl(): Command {
  const program = new Command('routerctl')
    .description('Validate and plan routerd configs; inspect a running routerd.')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();

  addLoadOptions(program.command('validate').description('check config files; exit 0 when valid, 1 when not'))
    .option('--pair <files...>', 'check two routers of a pair against each other: router A\'s and router B\'s config')
    .option('--engines', 'also have keepalived, nft and dnsmasq check the files routerd would render (run on the router)')
    .action(async (flags: LoadFlags & { pair?: string[]; engines?: boolean }) => {
    if (flags.pair) {
      process.exitCode = await validatePair(flags.pair, flags.output);
      return;
    }
    const r = await load(flags);
    const ids = r.config.resources.map((l) => `${l.resource.kind}/${l.resource.metadata.name}`);
    if (r.errors.length > 0) {
      if (flags.output === 'json') print('json', { valid: false, files: r.files, errors: r.errors }, '');
      else process.stderr.write(`${formatErrors(r.errors)}\n`);
      process.exitCode = Exit.Failed;
      return;
    }
    const refused = flags.engines ? await checkEngineFiles(desiredResources(r.config), hostname()) : [];
    if (refused.length > 0) {
      process.stderr.write(`${refused.join('\n')}\n`);
      process.exitCode = Exit.Failed;
      return;
    }
    print(flags.output, { valid: true, files: r.files, resources: ids }, `valid: ${ids.length} resource${ids.length === 1 ? '' : 's'} in ${r.files.join(', ')}`);
  });

  addLoadOptions(program.command('plan').description('show what routerd would do on this node, without changing anything'))
    .option('--run-dir <dir>', 'routerd run directory', DEFAULT_RUN_DIR)
    .option('--state-dir <dir>', 'routerd state directory', DEFAULT_STATE_DIR)
    .option('--socket <path>', 'status socket of the running routerd (default <run-dir>/routerd.sock)')
    .option('--node <name>', 'node name (VRRP router_id)', hostname())
    .option('--detailed-exitcode', 'exit 0 when nothing would change, 2 when something would, 1 on errors')
    .option('--no-engine-check', 'do not have keepalived, nft and dnsmasq check the files routerd would render')
    .action(async (flags: LoadFlags & { runDir: string; stateDir: string; socket?: string; node: string; detailedExitcode?: boolean; engineCheck: boolean }) => {
      const r = await load(flags);
      if (r.errors.length > 0) {
        process.stderr.write(`${formatErrors(r.errors)}\n`);
        process.exitCode = Exit.Failed;
        return;
      }
      const resources = desiredResources(r.config);
      if (flags.node !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(flags.node)) throw new CommanderError(Exit.Usage, 'routerctl.usage', `--node ${JSON.stringify(flags.node)} is not a valid node name`);
      const paths = { runDir: flags.runDir, stateDir: flags.stateDir };
      const reported = await reportedStatuses(socketOf(flags));
      const { observed, problems, plan } = await observeAndPlan(new LocalHost(), resources, { paths, nodeName: flags.node, reported: reported.lookup, deep: true });
      const running = reported.reachable ? await runningConfig(socketOf(flags)) : undefined;
      const plans = mergeChanges(plan.plans, planChanges(running, resources, observed), plan.removals);
      if (flags.detailedExitcode) process.exitCode = planExitCode(plans);
      // The engines judge the files serve would install. A refusal is a warning
      // here (the plan may be read on another machine, e.g. without the
      // router's links); serve never installs a file its engine refuses.
      const checks = flags.engineCheck ? await checkEngineFiles(resources, flags.node) : [];
      for (const c of checks) process.stderr.write(`${c.includes('is not installed here') ? 'note' : 'warning'}: ${c}; serve would keep the running file\n`);
      for (const p of problems) process.stderr.write(`note: not observed: ${p}\n`);
      if (!reported.reachable) process.stderr.write('note: routerd is not running here; status-dependent resources (spec.when) show as waiting\n');
      print(flags.output, { files: r.files, daemon: reported.reachable, resources: plans }, formatPlan(plans));
    });

  program
    .command('schema')
    .description('print the JSON Schema of one kind, or of all kinds')
    .argument('[kind]', `one of ${KIND_NAMES.join(', ')} (any case)`)
    .action((kindInput?: string) => {
      const kind = kindInput === undefined ? undefined : resolveKind(kindInput);
      const one = (k: keyof typeof KINDS) => ({ description: KINDS[k].description, ...z.toJSONSchema(resourceSchema(k), { io: 'input', unrepresentable: 'any' }) });
      const out = kind ? one(kind) : Object.fromEntries(KIND_NAMES.map((k) => [k, one(k)]));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });

  const daemonCmd = (name: string, description: string) =>
    program
      .command(name)
      .description(description)
      .option('--run-dir <dir>', 'run directory of the routerd instance', DEFAULT_RUN_DIR)
      .option('--socket <path>', 'status socket (default <run-dir>/routerd.sock)')
      .addOption(outputOption());

  daemonCmd('describe', 'show one resource\'s status in detail')
    .argument('<resource>', 'Kind/name, e.g. VirtualAddress/lan-vip (kind in any case)')
    .action(async (refInput: string, flags: { runDir: string; socket?: string; output: Output }) => {
      const ref = resolveRef(refInput);
      const { status, body } = await apiGet<ApiResource | { error: string }>(socketOf(flags), `/api/v1/resources/${ref.kind}/${ref.name}`);
      if (status !== 200) {
        process.stderr.write(`${'error' in body ? body.error : `HTTP ${status}`}\n`);
        process.exitCode = Exit.Failed;
        return;
      }
      print(flags.output, body, formatDescribe(body as ApiResource));
    });

  registerGet(program, socketOf);

  daemonCmd('status', 'summary of the running routerd').action(async (flags: { runDir: string; socket?: string; output: Output }) => {
    const { body } = await apiGet<{ items: ApiResource[] } & Record<string, unknown>>(socketOf(flags), '/api/v1/status');
    print(flags.output, body, `${Object.entries(body).filter(([k]) => k !== 'items').map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('\n')}\n\n${formatList(body.items)}`);
  });

  registerExplain(program);
  registerCompletion(program);
  registerReload(program);
  registerApply(program);
  registerRender(program);

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildRouterctl();
  if (argv.length === 0) {
    process.stderr.write(program.helpInformation());
    return Exit.Usage;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : Exit.Ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return Exit.Ok;
      if (e.code === 'routerctl.usage') process.stderr.write(`routerctl: ${e.message}\n`);
      return Exit.Usage;
    }
    process.stderr.write(`routerctl: ${(e as Error).message}\n`);
    return Exit.Failed;
  }
}
