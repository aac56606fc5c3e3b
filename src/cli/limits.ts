// Resource limits a run checks between slices, so that it stops with one line rather than
// Node aborting with a native stack trace when the JavaScript heap runs out.
import { getHeapStatistics } from 'node:v8';

/** The share of the heap limit in use that counts as nearly full. */
const NEARLY_FULL = 0.85;
/** Consecutive checks above it before stopping (collectable garbage is gone by then). */
const CHECKS = 3;

export class HeapWatch {
  private above = 0;

  constructor(private readonly stats: () => { used_heap_size: number; heap_size_limit: number } = getHeapStatistics) {}

  /** Why the run must stop, or null. */
  exhausted(): string | null {
    const h = this.stats();
    this.above = h.used_heap_size > h.heap_size_limit * NEARLY_FULL ? this.above + 1 : 0;
    if (this.above < CHECKS) return null;
    const mib = (n: number) => Math.round(n / 2 ** 20);
    return `the JavaScript heap is nearly full (${mib(h.used_heap_size)} of ${mib(h.heap_size_limit)} MiB in use)`;
  }
}
