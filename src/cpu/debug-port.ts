// What a debugger reaches in one PE: the addresses it stops at and the data accesses it
// watches. The run loop tests them; a watchpoint hit stops the PE before the access, and
// the PE itself backs out of the instruction and reports the hit as a stop, so nothing of
// the debugger runs inside an instruction but the watch test.

/** A watchpoint hit as gdb reports it: the kind of watchpoint and the address accessed. */
export interface WatchHit {
  readonly type: 'watch' | 'rwatch' | 'awatch';
  readonly addr: bigint;
}

export class DebugPort {
  /** Addresses the PE stops at, before executing the instruction there. */
  readonly breakpoints = new Set<bigint>();
  /** Whether data accesses are tested at all (the test costs nothing while this is false). */
  watching = false;
  /** The watch test of a data access at `va`: the hit that stops the PE before it, or null. */
  watch: (va: bigint, size: number, write: boolean) => WatchHit | null = () => null;
}

/** Unwinds an instruction whose access a watchpoint stops, up to the PE's run loop. */
export class WatchStop {
  constructor(readonly hit: WatchHit) {}
}
