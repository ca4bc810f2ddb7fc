import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const fixture = (...p: string[]) => join(REPO, 'test', 'fixtures', ...p);
export const example = (name: string) => join(REPO, 'examples', name);
