/**
 * Calls `log` for the first event and then at most once per `intervalMs`, passing how many events
 * were left out since the last call: a failing dependency is reported steadily, never by the thousand.
 */
export function rateLimited<A>(
  intervalMs: number,
  log: (arg: A, suppressed: number) => void,
): (arg: A) => void {
  let lastAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (arg) => {
    const now = Date.now();
    if (now - lastAt < intervalMs) {
      suppressed += 1;
      return;
    }
    lastAt = now;
    log(arg, suppressed);
    suppressed = 0;
  };
}
