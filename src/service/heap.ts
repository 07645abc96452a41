import v8 from 'node:v8';

/**
 * The old-space headroom the service gives V8, as the flag that sets it, or `undefined` to leave
 * V8's own choice: `percent` 0 does, and so does a `--heap-growing-percent` already on node's
 * command line (the operator's word wins).
 *
 * Why the service sets it: after each full GC, V8 lets the old space grow to its live size times a
 * factor it picks from the machine's memory, up to 4× on a host with 2 GiB or more of heap limit
 * (the bench machine: 24 GiB). Messages in flight outlive a scavenge or two and are promoted, so
 * under load the old space fills with dead messages up to that limit: about 4× the live heap of
 * ~45 MB before each mark-compact (peak RSS 255–280 MiB in the e2e bench). A fixed 50 % of
 * headroom measured 155–165 MiB, for about 4 % more CPU per message (more frequent, short
 * mark-compacts); 25 % cost a third more CPU. The live heap is what bounds memory; the headroom
 * is only what V8 lets garbage take before it collects.
 */
export function heapGrowthFlag(percent: number, execArgv: readonly string[]): string | undefined {
  if (percent <= 0) return undefined;
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg))) return undefined;
  return `--heap-growing-percent=${Math.floor(percent)}`;
}

/**
 * Sets the headroom at start-up. V8 reads this flag each time it recomputes the old space's limit
 * (after every full GC), so setting it at run time takes effect from the next one; the e2e bench
 * measured the same peak RSS set this way as on the command line. `node --v8-options` must list the
 * flag (test/service/heap.spec.ts checks this Node's V8 does): V8 ignores flags it does not know.
 */
export function applyHeapGrowth(
  percent: number,
  execArgv: readonly string[] = process.execArgv,
  setFlags: (flags: string) => void = v8.setFlagsFromString,
): string | undefined {
  const flag = heapGrowthFlag(percent, execArgv);
  if (flag !== undefined) setFlags(flag);
  return flag;
}
