// Shared by bin/routerd and bin/routerctl: run the compiled JavaScript in
// dist/ when it is there and current, else the TypeScript sources through tsx.
// An installed package has dist/ and no src/. In a checkout, dist/ is used only
// while no source file is newer than the last `npm run build` (dist/.built), so
// an edit after a build can never run stale code.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function newestMtimeMs(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    newest = Math.max(newest, e.isDirectory() ? newestMtimeMs(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function distIsCurrent() {
  if (!existsSync(`${ROOT}src`)) return true;
  const stamp = `${ROOT}dist/.built`;
  return existsSync(stamp) && newestMtimeMs(`${ROOT}src`) <= statSync(stamp).mtimeMs;
}

/** True when modules come from dist/ (what loadModule will do). */
export function fromDist() {
  // ROUTERD_FROM_SOURCE=1: always the sources (debugging; the start-up benchmark's baseline).
  return process.env.ROUTERD_FROM_SOURCE !== '1' && distIsCurrent();
}

let registered = false;

/** Imports one module (`controllers/session-sync/stream`) from dist/ when current, else from the sources. */
export async function loadModule(entry) {
  if (fromDist()) return import(`../dist/${entry}.js`);
  if (!registered) {
    const { register } = await import('tsx/esm/api');
    register();
    registered = true;
  }
  return import(`../src/${entry}.ts`);
}

/** Imports the entry module of one command (`cli/routerd`) and returns its `main`. */
export async function loadMain(entry) {
  return (await loadModule(entry)).main;
}
