import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { here, SDK_VERSIONS, scenarios, toolchainPresent } from '../conformance/clients.js';
import { conformanceConfig, LANGUAGES, type Language } from '../conformance/config.js';
import { runSuite } from '../conformance/run.js';

// The conformance suite (conformance/README.md) in CI, in the integration project (files run one at a
// time, so the Java and Go builds do not slow the unit tests): the JS column always, Python, Java and Go when
// their toolchain is on the machine (SLUICE_CONFORMANCE=js,python limits the columns). A scenario
// listed in conformance/known-failures.json may fail (the emulator bug is named there); any other
// failure fails the test. Builds are cached under .cache/conformance, so only the first run is cold.
const wanted = (process.env.SLUICE_CONFORMANCE?.split(',') ?? [...LANGUAGES]) as Language[];
const available = await Promise.all(
  wanted.map(async (lang) => [lang, await toolchainPresent(lang)] as const),
);
const langs = available.filter(([lang, ok]) => lang === 'js' || ok).map(([lang]) => lang);
const known = JSON.parse(readFileSync(path.join(here, 'known-failures.json'), 'utf8')) as Record<
  string,
  Record<string, string>
>;

describe('conformance suite definition', () => {
  it('has unique scenario ids and a committed Config.json that matches config.ts', () => {
    const ids = scenarios().map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    const committed = JSON.parse(readFileSync(path.join(here, 'Config.json'), 'utf8'));
    expect(committed).toEqual(conformanceConfig());
    for (const [lang, failures] of Object.entries(known)) {
      if (lang.startsWith('$')) continue;
      expect(LANGUAGES).toContain(lang);
      for (const id of Object.keys(failures)) expect(ids).toContain(id);
    }
  });
});

describe(`conformance: ${langs.join(', ')} against a fresh emulator`, () => {
  it(
    'passes every scenario not listed in known-failures.json',
    async () => {
      const suite = await runSuite(langs, {
        serial: true,
        log: (line) => console.log(`[conformance] ${line}`),
      });
      console.log(`[conformance]\n${suite.table}`);
      const unexpected: string[] = [];
      for (const lang of langs) {
        const run = suite.runs[lang]!;
        console.log(
          `[conformance] ${lang} (${SDK_VERSIONS[lang]}): build/install ${(run.prepareMs / 1000).toFixed(1)} s, run ${(run.runMs / 1000).toFixed(1)} s`,
        );
        for (const [id, outcome] of run.results) {
          const excused = known[lang]?.[id];
          if (outcome.status === 'FAIL' && !excused) unexpected.push(`${lang} ${id}: ${outcome.reason}`);
          if (outcome.status === 'PASS' && excused)
            console.log(`[conformance] ${lang} ${id} passes now: remove it from known-failures.json`);
        }
      }
      expect(unexpected).toEqual([]);
    },
    30 * 60_000,
  );
});
