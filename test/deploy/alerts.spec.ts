import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findTool, PROMTOOL, pinnedVersion, toolPath } from '../../packages/cassandra-harness/src/goTools.js';
import { projectRoot } from '../support/projectRoot.js';

// The Prometheus alert rules, checked by a real promtool (built from the Go module proxy by
// `npm run promtool:install`): syntax and PromQL, then unit tests that feed series from several
// replicas and expect each alert once, with its labels and annotations.

const promtool = findTool(PROMTOOL);
const rules = path.join(projectRoot, 'deploy/prometheus/alerts.yml');
const ruleTests = path.join(projectRoot, 'deploy/prometheus/alerts.test.yml');

if (!promtool) {
  describe('Prometheus alert rules', () => {
    it.skip(`SKIPPED: no promtool at ${toolPath(PROMTOOL)} (run 'npm run promtool:install', or set ${PROMTOOL.envOverride})`, () => {});
  });
  console.warn(`alerts.spec.ts: alert-rule tests skipped, no promtool (run 'npm run promtool:install')`);
}

describe('the promtool build pins', () => {
  it('builds the Prometheus version that harness/promtool/go.mod requires', () => {
    expect(pinnedVersion(PROMTOOL)).toBe(PROMTOOL.version);
  });
});

describe.skipIf(!promtool)('deploy/prometheus/alerts.yml', () => {
  it('passes promtool check rules', () => {
    const result = spawnSync(promtool!, ['check', 'rules', rules], { encoding: 'utf8' });
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('passes its unit tests (promtool test rules): one alert per entity or pipeline across replicas', () => {
    const result = spawnSync(promtool!, ['test', 'rules', ruleTests], { encoding: 'utf8' });
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/SUCCESS/);
  });
});
