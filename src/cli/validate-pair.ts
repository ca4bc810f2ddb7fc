// routerctl validate --pair A B: each file validated alone, then the two
// checked against each other (config/pair.ts).
import { compareErrors } from '../api/errors.ts';
import { loadDesired } from '../config/desired.ts';
import { checkPair } from '../config/pair.ts';
import { Exit } from './exit.ts';
import { formatErrors } from './format.ts';

export async function validatePair(files: readonly string[], output: 'table' | 'json' | string): Promise<number> {
  if (files.length !== 2) {
    process.stderr.write(`routerctl: --pair takes exactly two files (router A and router B), got ${files.length}\n`);
    return Exit.Usage;
  }
  const [a, b] = await Promise.all(files.map((f) => loadDesired({ files: [f], replace: true })));
  const errors = [...a!.errors, ...b!.errors];
  if (errors.length === 0) errors.push(...checkPair(a!.config.resources, b!.config.resources));
  errors.sort(compareErrors);
  if (output === 'json') process.stdout.write(`${JSON.stringify({ valid: errors.length === 0, files, errors }, null, 2)}\n`);
  else if (errors.length > 0) process.stderr.write(`${formatErrors(errors)}\n`);
  else process.stdout.write(`valid pair: ${files[0]} and ${files[1]} agree (${a!.config.resources.length} and ${b!.config.resources.length} resources)\n`);
  return errors.length === 0 ? Exit.Ok : Exit.Failed;
}
