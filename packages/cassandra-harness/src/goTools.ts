import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cacheHome, toolsDir } from './paths.js';

/**
 * Command-line tools the deployment tests run (Helm, promtool), built from the Go module proxy with
 * the machine's Go like the Jaeger of the trace tests: go.mod and go.sum under tools/<name> pin
 * every module, and the binary is cached under $SLUICE_CACHE_DIR (default .cache) by version.
 */
export interface GoTool {
  name: string;
  /** The version of `module` in tools/<name>/go.mod (a test keeps the two equal). */
  version: string;
  module: string;
  /** The main package to build. */
  pkg: string;
  /** Variable that points at a binary to use instead (skips the build). */
  envOverride: string;
  ldflags: string[];
  /** Build tags. */
  tags?: string[];
}

export const HELM: GoTool = {
  name: 'helm',
  version: 'v3.22.0',
  module: 'helm.sh/helm/v3',
  pkg: 'helm.sh/helm/v3/cmd/helm',
  envOverride: 'SLUICE_HELM_BIN',
  // Like Helm's own release builds: its version, and the Kubernetes version of the client-go it
  // pins (k8s.io/client-go v0.37 is Kubernetes 1.37), which `helm template` renders against.
  ldflags: [
    '-X helm.sh/helm/v3/internal/version.version=v3.22.0',
    '-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1',
    '-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37',
    '-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1',
    '-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37',
  ],
};

/** Prometheus 3.x is tagged v0.3xx.y as a Go module: v0.316.0 is Prometheus 3.16.0. */
export const PROMTOOL: GoTool = {
  name: 'promtool',
  version: 'v0.316.0',
  module: 'github.com/prometheus/prometheus',
  pkg: 'github.com/prometheus/prometheus/cmd/promtool',
  envOverride: 'SLUICE_PROMTOOL_BIN',
  ldflags: ['-X github.com/prometheus/common/version.Version=3.16.0'],
  // Prometheus' own switch to leave out the cloud service-discovery plugins (AWS, Azure, GCE, ...):
  // checking and unit-testing rules needs none of them, and the build gets much smaller.
  tags: ['remove_all_sd'],
};

const run = promisify(execFile);

export function harnessDir(tool: GoTool): string {
  return path.join(toolsDir, tool.name);
}

export function toolPath(tool: GoTool, cacheDir?: string): string {
  const base = cacheDir ?? cacheHome();
  return path.join(base, tool.name, tool.version, tool.name);
}

/** The binary to use, or undefined when it is neither given nor built yet. */
export function findTool(tool: GoTool): string | undefined {
  const given = process.env[tool.envOverride];
  if (given) return existsSync(given) ? given : undefined;
  const cached = toolPath(tool);
  return existsSync(cached) ? cached : undefined;
}

/** Builds the binary unless it is cached. Minutes the first time (downloads and compiles). */
export async function installTool(
  tool: GoTool,
  log: (line: string) => void = () => undefined,
): Promise<string> {
  const found = findTool(tool);
  if (found) return found;
  try {
    await run('go', ['version']);
  } catch {
    throw new Error(`Go is not installed: ${tool.name} is built from the Go module proxy with it.`);
  }
  const binary = toolPath(tool);
  const work = mkdtempSync(path.join(tmpdir(), `sluice-${tool.name}-build-`));
  for (const file of ['go.mod', 'go.sum', 'tools.go'])
    copyFileSync(path.join(harnessDir(tool), file), path.join(work, file));
  log(`Building ${tool.name} (${tool.module} ${tool.version}) from the Go module proxy into ${binary}`);
  mkdirSync(path.dirname(binary), { recursive: true });
  // Built beside the target and renamed, so an interrupted build never passes for a cached binary.
  const partial = `${binary}.partial-${process.pid}`;
  try {
    await run(
      'go',
      [
        'build',
        '-trimpath',
        ...(tool.tags?.length ? ['-tags', tool.tags.join(',')] : []),
        `-ldflags=-s -w ${tool.ldflags.join(' ')}`,
        '-o',
        partial,
        tool.pkg,
      ],
      {
        cwd: work,
        // The proxy here does not answer checksum-database look-ups; go.sum, committed, pins every hash.
        env: { ...process.env, GOSUMDB: 'off', GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    renameSync(partial, binary);
  } catch (error) {
    rmSync(partial, { force: true });
    const output = `${(error as { stderr?: string }).stderr ?? ''}`;
    throw new Error(`Could not build ${tool.name}:\n${output.trim().split('\n').slice(-20).join('\n')}`, {
      cause: error,
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return binary;
}

/** The version tools/<name>/go.mod requires of the tool's module. */
export function pinnedVersion(tool: GoTool): string | undefined {
  const goMod = readFileSync(path.join(harnessDir(tool), 'go.mod'), 'utf8');
  const escaped = tool.module.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, 'm').exec(goMod)?.[1];
}

/** `tsx scripts/helm.ts` and `tsx scripts/promtool.ts`. */
export async function installMain(tool: GoTool): Promise<void> {
  try {
    const started = Date.now();
    const binary = await installTool(tool, (line) => console.log(line));
    console.log(`${tool.name} ready at ${binary} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
