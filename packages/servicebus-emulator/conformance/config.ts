// Builds the emulator Config.json of the conformance suite: one set of entities per language, so the
// four clients run side by side without touching each other's messages. `npx tsx conformance/config.ts`
// rewrites conformance/Config.json (committed, and checked against this by the spec).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EmulatorConfig, EmulatorQueue, EmulatorTopic } from '../src/index.js';

export const LANGUAGES = ['js', 'python', 'java', 'go'] as const;
export type Language = (typeof LANGUAGES)[number];

export const prefix = (lang: string): string => `conf-${lang}`;

export function conformanceConfig(langs: readonly string[] = LANGUAGES): EmulatorConfig {
  const queues: EmulatorQueue[] = [];
  const topics: EmulatorTopic[] = [];
  for (const lang of langs) {
    const p = prefix(lang);
    const plain = { LockDuration: 'PT30S', MaxDeliveryCount: 10 };
    for (const name of ['auth', 'q', 'defer', 'sched', 'peek', 'rad', 'in', 'out'])
      queues.push({ Name: `${p}-${name}`, Properties: plain });
    queues.push({ Name: `${p}-sq`, Properties: { ...plain, RequiresSession: true } });
    queues.push({ Name: `${p}-nsq`, Properties: { ...plain, RequiresSession: true } });
    queues.push({
      Name: `${p}-dup`,
      Properties: { ...plain, RequiresDuplicateDetection: true, DuplicateDetectionHistoryTimeWindow: 'PT5M' },
    });
    topics.push({
      Name: `${p}-t`,
      Subscriptions: [
        { Name: 'all', Properties: plain },
        {
          Name: 'corr',
          Properties: plain,
          Rules: [
            {
              Name: 'route-a',
              Properties: { FilterType: 'Correlation', CorrelationFilter: { CorrelationId: 'route-a' } },
            },
          ],
        },
      ],
    });
  }
  return { UserConfig: { Namespaces: [{ Name: 'sluice-conformance', Queues: queues, Topics: topics }] } };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = fileURLToPath(new URL('./Config.json', import.meta.url));
  writeFileSync(file, `${JSON.stringify(conformanceConfig(), null, 2)}\n`);
  console.log(`wrote ${file}`);
}
