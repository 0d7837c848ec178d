/**
 * Preloaded into a benchmarked function (NODE_OPTIONS=--require …/gc-observer.js): one line per
 * garbage collection on stderr, `gc-observed <major|minor|other> <ms>`, which the bench tallies
 * (bench-kit.ts `gcTally`). Main-thread pauses only: the collector's helper threads are not seen.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';

const kinds: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
};

new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
    process.stderr.write(`gc-observed ${kinds[kind] ?? 'other'} ${entry.duration.toFixed(3)}\n`);
  }
}).observe({ entryTypes: ['gc'] });
