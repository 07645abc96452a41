import type { Outcome } from './count.js';

/** One scenario's line: what it measured; `failures` says which criteria it broke. */
export interface Row {
  scenario: string;
  /** Messages published (valid + poison). */
  sent: number;
  outcome?: Outcome;
  /** Exits of the service that nobody asked for. */
  crashes: number;
  /** Seconds from the fault to the first not-ready answer (criterion: ≤ 5). */
  notReady?: number;
  /** Seconds from the recovery to the first ready answer (criterion: ≤ 2). */
  ready?: number;
  /** Seconds from the recovery until messages move again. */
  resume?: number;
  /** Seconds SIGTERM took to end the process, and the limit (drain timeout + 5 s). */
  term?: { seconds: number; limit: number };
  /** For a misconfiguration that must exit by itself: seconds to exit and the limit. */
  exit?: { seconds: number; limit: number; code: number | null };
  /** Whatever else the scenario checks, as failures; and figures worth printing. */
  failures: string[];
  notes: string[];
  seconds: number;
}

/** Issue 14's bar, applied to whatever the row measured; adds to the scenario's own failures. */
export function judge(row: Row): Row {
  const failures = [...row.failures];
  const o = row.outcome;
  if (o !== undefined) {
    if (o.lost > 0) failures.push(`${o.lost} lost`);
    if (o.extraRows > 0) failures.push(`${o.extraRows} extra rows`);
    if (o.wronglyDeadLettered > 0)
      failures.push(`${o.wronglyDeadLettered} valid dead-lettered ${JSON.stringify(o.wrongReasons)}`);
    if (o.poisonNotDeadLettered > 0) failures.push(`${o.poisonNotDeadLettered} poison not dead-lettered`);
    if (o.poisonWrongReason > 0) failures.push(`${o.poisonWrongReason} poison with the wrong reason`);
    if (o.stuck > 0) failures.push(`${o.stuck} stuck in the queue`);
    if (o.latestWrong > 0) failures.push(`${o.latestWrong} devices with a wrong latest state`);
  }
  if (row.crashes > 0) failures.push(`${row.crashes} crashes`);
  if (row.notReady !== undefined && !(row.notReady <= 5))
    failures.push(`not-ready after ${fmt(row.notReady)} s`);
  if (row.ready !== undefined && !(row.ready <= 2)) failures.push(`ready ${fmt(row.ready)} s after recovery`);
  if (row.term !== undefined && !(row.term.seconds <= row.term.limit))
    failures.push(`SIGTERM: ${fmt(row.term.seconds)} s (limit ${row.term.limit} s)`);
  if (row.exit !== undefined) {
    if (!(row.exit.seconds <= row.exit.limit)) failures.push(`no exit within ${row.exit.limit} s`);
    else if (row.exit.code === 0) failures.push('exited 0');
  }
  return { ...row, failures };
}

export const fmt = (n: number | undefined) =>
  n === undefined ? '' : Number.isFinite(n) ? n.toFixed(n < 10 ? 1 : 0) : '∞';

const COLUMNS: [string, (r: Row) => string][] = [
  ['scenario', (r) => r.scenario],
  ['sent', (r) => String(r.sent || '')],
  ['lost', (r) => String(r.outcome?.lost ?? '')],
  ['extra', (r) => String(r.outcome?.extraRows ?? '')],
  ['wrong DLQ', (r) => String(r.outcome?.wronglyDeadLettered ?? '')],
  [
    'poison !DLQ',
    (r) => (r.outcome ? String(r.outcome.poisonNotDeadLettered + r.outcome.poisonWrongReason) : ''),
  ],
  ['stuck', (r) => String(r.outcome?.stuck ?? '')],
  ['crashes', (r) => String(r.crashes)],
  ['latest ✗', (r) => String(r.outcome?.latestWrong ?? '')],
  ['+deliveries', (r) => String(r.outcome?.extraDeliveries ?? '')],
  ['not-ready s', (r) => fmt(r.notReady)],
  ['ready s', (r) => fmt(r.ready)],
  ['resume s', (r) => fmt(r.resume)],
  ['exit s', (r) => (r.exit ? `${fmt(r.exit.seconds)} (${r.exit.code ?? 'signal'})` : '')],
  ['SIGTERM s', (r) => fmt(r.term?.seconds)],
  ['time s', (r) => fmt(r.seconds)],
  ['result', (r) => (r.failures.length === 0 ? 'PASS' : 'FAIL')],
  ['why / notes', (r) => [...r.failures, ...r.notes].join('; ')],
];

export function tableHeader(): string {
  return `| ${COLUMNS.map(([name]) => name).join(' | ')} |\n|${COLUMNS.map(() => ' --- |').join('')}`;
}

export function tableRow(row: Row): string {
  return `| ${COLUMNS.map(([, cell]) => cell(row).replaceAll('|', '/')).join(' | ')} |`;
}
