// The package version, read from package.json two levels up: the same from
// src/cli (through tsx) and from dist/cli (the built package).
import { readFileSync } from 'node:fs';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
