import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// src/, dist/ and scripts/ all sit one level below the package.
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The pinned build files of each tool (pom.xml, go.mod, config templates), shipped with the package. */
export const toolsDir = path.join(packageRoot, 'tools');

/**
 * The repository this package is checked out in, if it is: then data and caches stay in the
 * checkout, where the tests, CI and the README expect them. An installed copy lives under
 * node_modules, which is no place for a database's data.
 */
const checkout = (() => {
  if (packageRoot.split(path.sep).includes('node_modules')) return undefined;
  const root = path.resolve(packageRoot, '../..');
  return existsSync(path.join(root, 'package.json')) ? root : undefined;
})();

function xdg(variable: string, fallback: string): string {
  const value = process.env[variable];
  return value && path.isAbsolute(value) ? value : path.join(os.homedir(), fallback);
}

/** Where nodes keep data and logs: `SLUICE_HOME`, else the checkout's `.run`, else `$XDG_DATA_HOME/sluice`. */
export function dataHome(): string {
  if (process.env.SLUICE_HOME) return path.resolve(process.env.SLUICE_HOME);
  if (checkout) return path.join(checkout, '.run');
  return path.join(xdg('XDG_DATA_HOME', '.local/share'), 'sluice');
}

/** Where fetched jars and built tools are kept: `SLUICE_CACHE_DIR`, else the checkout's `.cache`, else `$XDG_CACHE_HOME/sluice`. */
export function cacheHome(): string {
  if (process.env.SLUICE_CACHE_DIR) return path.resolve(process.env.SLUICE_CACHE_DIR);
  if (checkout) return path.join(checkout, '.cache');
  return path.join(xdg('XDG_CACHE_HOME', '.cache'), 'sluice');
}
