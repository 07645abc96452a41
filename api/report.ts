// `npm run api`: the API report of each entry point of the `sluice` package, made by API Extractor
// from the declarations the build emits, and compared with the reports checked in under api/.
// A change to the public surface fails here until the report is updated with `npm run api -- --update`
// and reviewed in the diff, as the Azure SDK does with its *.api.md files.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Extractor, ExtractorConfig, ExtractorLogLevel } from '@microsoft/api-extractor';

const root = path.resolve(import.meta.dirname, '..');
const update = process.argv.includes('--update');
const declarations = path.join(root, '.run/api/dts');

// The sub-entry points use the library's types, which API Extractor (one entry point per run) sees
// as not exported by them: that check only means something for the library's own entry point.
const entryPoints = [
  { report: 'sluice', file: 'src/index.d.ts', forgottenExports: ExtractorLogLevel.Warning },
  { report: 'sluice-testing', file: 'src/testing/index.d.ts', forgottenExports: ExtractorLogLevel.None },
  { report: 'sluice-examples', file: 'examples/index.d.ts', forgottenExports: ExtractorLogLevel.None },
];

rmSync(declarations, { recursive: true, force: true });
mkdirSync(declarations, { recursive: true });
execFileSync(
  process.execPath,
  [
    path.join(root, 'node_modules/typescript/bin/tsc'),
    '-p',
    path.join(root, 'tsconfig.build.json'),
    '--emitDeclarationOnly',
    '--declarationMap',
    'false',
    '--outDir',
    declarations,
  ],
  { stdio: 'inherit' },
);

let failed = 0;
for (const entry of entryPoints) {
  const config = ExtractorConfig.prepare({
    configObjectFullPath: undefined,
    packageJsonFullPath: path.join(root, 'package.json'),
    configObject: {
      projectFolder: root,
      mainEntryPointFilePath: path.join(declarations, entry.file),
      compiler: { tsconfigFilePath: path.join(root, 'tsconfig.build.json') },
      apiReport: {
        enabled: true,
        reportFileName: `${entry.report}.api.md`,
        reportFolder: path.join(root, 'api'),
        reportTempFolder: path.join(root, '.run/api/temp'),
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        // Every export is public; a release tag on each would say nothing.
        extractorMessageReporting: {
          'ae-missing-release-tag': { logLevel: ExtractorLogLevel.None },
          // Documentation is reviewed in the report's diff, not counted here.
          'ae-undocumented': { logLevel: ExtractorLogLevel.None },
          'ae-forgotten-export': { logLevel: entry.forgottenExports },
          default: { logLevel: ExtractorLogLevel.Warning },
        },
        tsdocMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
        compilerMessageReporting: { default: { logLevel: ExtractorLogLevel.Warning } },
      },
    },
  });
  const result = Extractor.invoke(config, { localBuild: update, showVerboseMessages: false });
  const ok = result.succeeded && (update || !result.apiReportChanged);
  console.log(
    `${entry.report}: ${ok ? 'matches api/' : 'differs from api/'}${entry.report}.api.md (${result.errorCount} errors, ${result.warningCount} warnings)`,
  );
  if (!ok) failed += 1;
}
if (failed > 0) {
  console.error('The public API changed: review the diff, then run `npm run api -- --update`.');
  process.exitCode = 1;
}
