// The core's events are its own objects, filled in again for the next event: a test that keeps
// them keeps a copy.
import type { MemoryAccessed } from '../../src/cpu/events.js';

/** A watched-memory event's fields as they are now. */
export function copyAccess(e: MemoryAccessed): MemoryAccessed {
  return { pa: e.pa, va: e.va, size: e.size, write: e.write, value: e.value, before: e.before, pc: e.pc };
}
