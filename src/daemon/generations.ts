// Applied configs kept as numbered generations in the state dir
// (generations/N.yaml plus index.json), so `routerctl history` lists them and
// `routerctl rollback --to N` brings one back. Written with fsync of the file
// and the directory: a generation recorded is a generation on disk.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../host/local.ts';

export interface Generation {
  readonly generation: number;
  readonly time: string;
  /** What made it: the config routerd started with, an apply, a rollback (by the operator or an unconfirmed apply). */
  readonly origin: 'initial' | 'apply' | 'rollback' | 'confirm-timeout';
  /** For a rollback: the generation brought back. */
  readonly from?: number;
  readonly resources: number;
  /** false while an apply --confirm waits for `routerctl confirm`. */
  readonly confirmed: boolean;
}

/** Generations kept; older ones are dropped from the directory and the index. */
export const KEEP_GENERATIONS = 50;

export class GenerationStore {
  private readonly dir: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'generations');
  }

  async list(): Promise<Generation[]> {
    const text = await readFile(join(this.dir, 'index.json'), 'utf8').catch(() => undefined);
    return text ? (JSON.parse(text) as Generation[]) : [];
  }

  async text(n: number): Promise<string | undefined> {
    if (!Number.isInteger(n) || n < 1) return undefined;
    return readFile(join(this.dir, `${n}.yaml`), 'utf8').catch(() => undefined);
  }

  async record(text: string, g: Omit<Generation, 'generation' | 'time'>): Promise<Generation> {
    await mkdir(this.dir, { recursive: true, mode: 0o750 });
    const list = await this.list();
    const generation = (list.at(-1)?.generation ?? 0) + 1;
    const entry: Generation = { generation, time: new Date().toISOString(), ...g };
    await writeFileAtomic(join(this.dir, `${generation}.yaml`), text, 0o640);
    await this.save([...list, entry].slice(-KEEP_GENERATIONS));
    return entry;
  }

  async markConfirmed(n: number): Promise<void> {
    const list = await this.list();
    await this.save(list.map((g) => (g.generation === n ? { ...g, confirmed: true } : g)));
  }

  private async save(list: readonly Generation[]): Promise<void> {
    await writeFileAtomic(join(this.dir, 'index.json'), `${JSON.stringify(list, null, 2)}\n`, 0o640);
  }
}
