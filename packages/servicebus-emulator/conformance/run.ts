// `npm run conformance [-- --only js,python] [--serial] [--verbose]`: starts a fresh emulator with
// conformance/Config.json, builds or installs each client (cached under .cache/conformance), runs
// them, prints a table scenario × language, and exits 1 if any scenario failed.
import { parseArgs } from 'node:util';
import { startEmulator } from '../src/index.js';
import {
  type ClientRun,
  type Outcome,
  type Prepared,
  prepare,
  runClient,
  SDK_VERSIONS,
  scenarios,
} from './clients.js';
import { conformanceConfig, LANGUAGES, type Language } from './config.js';
import { checkCrossSend, sendCrossMessages } from './cross.js';

export interface SuiteResult {
  langs: Language[];
  runs: Partial<Record<Language, ClientRun & { prepareMs: number; runMs: number }>>;
  failed: number;
  table: string;
}

export async function runSuite(
  langs: Language[],
  opts: { serial?: boolean; log?: (line: string) => void } = {},
): Promise<SuiteResult> {
  const log = opts.log ?? (() => undefined);
  const emulator = await startEmulator({ config: conformanceConfig(), port: 0 });
  const runs: SuiteResult['runs'] = {};
  try {
    await sendCrossMessages(emulator.connectionString, langs);
    // Builds run one at a time (they are CPU-heavy); the clients then run side by side on their own entities.
    const prepared = new Map<Language, { prepared?: Prepared; error?: Error; ms: number }>();
    for (const lang of langs) {
      const t0 = Date.now();
      try {
        prepared.set(lang, { prepared: await prepare(lang, log), ms: Date.now() - t0 });
      } catch (error) {
        prepared.set(lang, { error: error as Error, ms: Date.now() - t0 });
      }
      log(`${lang}: ready after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    const one = async (lang: Language) => {
      const p = prepared.get(lang)!;
      let run: ClientRun;
      if (p.prepared) {
        run = await runClient(p.prepared, emulator.connectionString, lang);
      } else {
        const reason = `client could not be built: ${p.error?.message.split('\n')[0]}`;
        run = {
          results: new Map(scenarios().map((s) => [s.id, { status: 'FAIL', reason } as Outcome])),
          output: p.error?.message ?? '',
          exitCode: null,
          ms: 0,
        };
      }
      // cross.send: the client says it sent; the JS SDK now receives the message and checks it.
      if (run.results.get('cross.send')?.status === 'PASS') {
        const problem = await checkCrossSend(emulator.connectionString, lang);
        if (problem) run.results.set('cross.send', { status: 'FAIL', reason: `runner (JS SDK): ${problem}` });
      }
      runs[lang] = { ...run, prepareMs: p.ms, runMs: run.ms };
      log(`${lang}: ran in ${(run.ms / 1000).toFixed(1)} s`);
    };
    if (opts.serial) for (const lang of langs) await one(lang);
    else await Promise.all(langs.map((lang) => one(lang)));
  } finally {
    await emulator.close();
  }
  const { table, failed } = formatTable(langs, runs);
  return { langs, runs, failed, table };
}

export function formatTable(langs: Language[], runs: SuiteResult['runs']): { table: string; failed: number } {
  const ids = scenarios().map((s) => s.id);
  const width = Math.max(...ids.map((id) => id.length), 'scenario'.length);
  const col = 8;
  const lines = [`| ${'scenario'.padEnd(width)} | ${langs.map((l) => l.padEnd(col)).join(' | ')} |`];
  lines.push(`| ${'-'.repeat(width)} | ${langs.map(() => '-'.repeat(col)).join(' | ')} |`);
  let failed = 0;
  for (const id of ids) {
    const cells = langs.map((lang) => {
      const status = runs[lang]?.results.get(id)?.status ?? 'FAIL';
      if (status === 'FAIL') failed++;
      return (status === 'PASS' ? 'pass' : status === 'SKIP' ? 'skip' : 'FAIL').padEnd(col);
    });
    lines.push(`| ${id.padEnd(width)} | ${cells.join(' | ')} |`);
  }
  const totals = langs.map((lang) => {
    const r = [...(runs[lang]?.results.values() ?? [])];
    return `${r.filter((x) => x.status === 'PASS').length}/${ids.length}`.padEnd(col);
  });
  lines.push(`| ${'passed'.padEnd(width)} | ${totals.join(' | ')} |`);
  return { table: lines.join('\n'), failed };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      serial: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
    },
  });
  const langs = (values.only ? values.only.split(',').map((s) => s.trim()) : [...LANGUAGES]) as Language[];
  for (const l of langs)
    if (!LANGUAGES.includes(l)) {
      console.error(`--only: unknown language ${l} (choose from ${LANGUAGES.join(', ')})`);
      process.exit(2);
    }
  const started = Date.now();
  const result = await runSuite(langs, { serial: values.serial, log: (line) => console.error(line) });
  for (const lang of langs) {
    const run = result.runs[lang];
    if (!run) continue;
    const failures = [...run.results.entries()].filter(([, o]) => o.status !== 'PASS');
    if (values.verbose || failures.length > 0) {
      console.log(`\n${lang} (${SDK_VERSIONS[lang]}):`);
      for (const [id, o] of failures) console.log(`  ${o.status} ${id}: ${o.reason ?? ''}`);
      if (values.verbose) console.log(run.output);
    }
  }
  console.log(`\n${result.table}\n`);
  for (const lang of langs) {
    const run = result.runs[lang];
    if (run)
      console.log(
        `${lang}: ${SDK_VERSIONS[lang]}; build/install ${(run.prepareMs / 1000).toFixed(1)} s, run ${(run.runMs / 1000).toFixed(1)} s`,
      );
  }
  const all = langs.flatMap((lang) => [...(result.runs[lang]?.results.values() ?? [])]);
  const passed = all.filter((o) => o.status === 'PASS').length;
  const skipped = all.filter((o) => o.status === 'SKIP').length;
  console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s)`);
  console.log(`conformance: ${passed} passed, ${result.failed} failed, ${skipped} skipped`);
  process.exit(result.failed > 0 ? 1 : 0);
}
