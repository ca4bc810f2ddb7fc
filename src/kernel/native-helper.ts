// routerd's small C helpers (src/kernel/ct-*/): built by scripts/build-helpers
// into build/, found there or at the path an environment variable names.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface NativeHelper {
  /** Where scripts/build-helpers builds it, unless `env` names another path. */
  path(): string;
  present(): boolean;
}

export function nativeHelper(name: 'routerd-ct-delete' | 'routerd-ct-dump' | 'routerd-ct-events', env: string): NativeHelper {
  const path = () => process.env[env] ?? fileURLToPath(new URL(`../../build/${name}`, import.meta.url));
  return { path, present: () => existsSync(path()) };
}
