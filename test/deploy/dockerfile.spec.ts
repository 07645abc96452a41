import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { projectRoot } from '../support/projectRoot.js';

// There is no container engine here: deploy/Dockerfile is parsed and held to the rules the chart
// relies on (non-root, read-only root filesystem, signals to node, production dependencies only).

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const instructions: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending === '') startLine = index + 1;
    if (line.startsWith('#')) return; // comment lines inside a continuation
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = `${pending}${line}`.trim();
    pending = '';
    const match = /^(\S+)\s*(.*)$/.exec(full)!;
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!, line: startLine });
  });
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.split(/\s+/);
      const from = image!.replace(/\$\{(\w+)\}/g, (_, v: string) => args.get(v) ?? '');
      stages.push({ from, ...(as?.toUpperCase() === 'AS' && name ? { name } : {}), instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword === 'ARG') {
        const [key, value] = instruction.args.split('=');
        args.set(key!, value ?? '');
      }
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readFileSync(path.join(projectRoot, 'deploy/Dockerfile'), 'utf8'));
const { stages } = dockerfile;
const final = stages.at(-1)!;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const runs = (stage: Stage) => all(stage, 'RUN').map((i) => i.args);

describe('deploy/Dockerfile', () => {
  it('is multi-stage on a slim Node 20 base', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.from).toMatch(/^node:20[.\w-]*-slim$/);
  });

  it('builds in a stage of its own with npm ci and npm run build', () => {
    const build = stages.find((s) => runs(s).some((r) => /\bnpm run build\b/.test(r)));
    expect(build, 'a build stage').toBeDefined();
    expect(build).not.toBe(final);
    expect(runs(build!).some((r) => /^npm ci\b/.test(r) && !r.includes('--omit=dev'))).toBe(true);
  });

  it('puts only production dependencies and the compiled service in the final stage', () => {
    const deps = stages.find((s) => runs(s).some((r) => /\bnpm ci\b.*--omit=dev/.test(r)));
    expect(deps, 'a stage with npm ci --omit=dev').toBeDefined();
    const copies = all(final, 'COPY').map((i) => i.args);
    const nodeModules = copies.find((c) => /\bnode_modules\b/.test(c));
    expect(nodeModules).toMatch(new RegExp(`--from=${deps!.name}\\b`));
    expect(copies.some((c) => /--from=\S+\s+\/app\/dist\b/.test(c))).toBe(true);
    // No sources, tests, dev tooling or npm install in the runtime image.
    for (const copy of copies) expect(copy).not.toMatch(/(^|\s)(src|test|bench|harness|scripts)(\/|\s|$)/);
    for (const run of runs(final)) expect(run).not.toMatch(/\bnpm (ci|install)\b/);
  });

  it('runs as a numeric non-root user, set before the entrypoint', () => {
    const users = all(final, 'USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0]!.args.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    if (gid !== undefined) expect(Number(gid)).toBeGreaterThan(0);
    const entrypoint = all(final, 'ENTRYPOINT')[0]!;
    expect(users[0]!.line).toBeLessThan(entrypoint.line);
    // Nothing runs as root after the switch.
    expect(final.instructions.filter((i) => i.line > users[0]!.line && i.keyword === 'RUN')).toEqual([]);
  });

  it('starts node directly in exec form (SIGTERM reaches the service), with no HEALTHCHECK', () => {
    const entrypoint = all(final, 'ENTRYPOINT');
    expect(entrypoint).toHaveLength(1);
    const argv = JSON.parse(entrypoint[0]!.args) as string[];
    expect(argv[0]).toBe('node');
    expect(argv.join(' ')).not.toMatch(/\b(sh|bash|tini|dumb-init|npm|npx)\b|-c\b/);
    expect(existsSync(path.join(projectRoot, argv[1]!.replace(/^\/app\//, '')))).toBe(true);
    const cmd = JSON.parse(all(final, 'CMD')[0]!.args) as string[];
    expect(cmd[0]).toBe('run');
    for (const stage of stages) expect(all(stage, 'HEALTHCHECK')).toEqual([]);
    expect(all(final, 'STOPSIGNAL').every((i) => i.args === 'SIGTERM')).toBe(true);
  });

  it('needs no writable root filesystem: HOME in /tmp, no VOLUME, the chart runs its default module', () => {
    const env = all(final, 'ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toMatch(/\bHOME=\/tmp\b/);
    expect(env).toMatch(/\bNODE_ENV=production\b/);
    expect(all(final, 'VOLUME')).toEqual([]);
    // The young generation is sized for messages in flight, not from the container's limit; node
    // refuses a flag NODE_OPTIONS may not carry, so this Node must start with it.
    const nodeOptions = env.match(/\bNODE_OPTIONS=(\S+)/)?.[1];
    expect(nodeOptions).toMatch(/^--max-semi-space-size=\d+$/);
    const started = execFileSync(process.execPath, ['-p', '"started"'], {
      env: { ...process.env, NODE_OPTIONS: nodeOptions },
      encoding: 'utf8',
    });
    expect(started.trim()).toBe('started');
    const values = parse(readFileSync(path.join(projectRoot, 'deploy/helm/sluice/values.yaml'), 'utf8'));
    const cmd = JSON.parse(all(final, 'CMD')[0]!.args) as string[];
    expect(cmd[1]).toBe(values.pipelines.module);
    expect(all(final, 'EXPOSE')[0]?.args).toBe(String(values.sluice.httpPort));
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const ignore = readFileSync(path.join(projectRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    // An allowlist: everything excluded, then the few paths the build needs.
    expect(ignore[0]).toBe('*');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    for (const stage of stages) {
      for (const copy of all(stage, 'COPY').filter((i) => !i.args.includes('--from='))) {
        const sources = copy.args.split(/\s+/).slice(0, -1);
        for (const source of sources) {
          expect(existsSync(path.join(projectRoot, source)), `${source} exists`).toBe(true);
          expect(allowed, `${source} is in the build context`).toContain(source);
        }
      }
    }
    for (const secretish of ['.git', 'node_modules', '.cache', '.run', 'dist']) {
      expect(allowed).not.toContain(secretish);
    }
  });
});
