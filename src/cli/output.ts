// `-o table|wide|json|yaml` for every routerctl command that prints data.
// json and yaml print the same object; wide is the table with more columns
// where a command has them, else the table.
import { Option } from 'commander';
import { stringify } from 'yaml';

export const OUTPUTS = ['table', 'wide', 'json', 'yaml'] as const;
export type Output = (typeof OUTPUTS)[number];

export const outputOption = () => new Option('-o, --output <format>', 'output format').choices(OUTPUTS).default('table');

export function render(o: Output, data: unknown, table: () => string, wide: () => string = table): string {
  switch (o) {
    case 'json':
      return JSON.stringify(data, null, 2);
    case 'yaml':
      return stringify(data, { lineWidth: 0 }).trimEnd();
    case 'wide':
      return wide();
    default:
      return table();
  }
}

export function print(o: Output, data: unknown, table: () => string, wide?: () => string): void {
  process.stdout.write(`${render(o, data, table, wide)}\n`);
}
