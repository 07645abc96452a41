import { beforeAll, describe, expect, it } from 'vitest';
import type { Row } from '../../chaos/lib/report.js';
import { runSuite, scenarios } from '../../chaos/run.js';

// The fault suite's short form, each scenario held to issue 14's bar: 0 lost, 0 extra rows,
// 0 wrongly dead-lettered, 0 crashes, not-ready within 5 s of a fault, ready within 2 s of the
// recovery, misconfigurations exiting within 10 s, SIGTERM ending the process in every state.
// Off until the service meets it: SLUICE_CHAOS=1 switches it on (it runs for several minutes and
// starts its own Cassandra node on 127.0.0.5).
const short = scenarios.filter((s) => s.short).map((s) => s.name);
let rows: Row[] = [];

describe.skipIf(process.env.SLUICE_CHAOS !== '1')('the fault suite, short form', () => {
  beforeAll(async () => {
    rows = await runSuite({ short: true, log: () => undefined });
  }, 45 * 60_000);

  it.each(short)('%s meets its criteria', (name) => {
    const row = rows.find((r) => r.scenario === name);
    expect(row, `${name} did not run`).toBeDefined();
    expect(row!.failures, `${name}: ${row!.notes.join('; ')}`).toEqual([]);
  });
});
