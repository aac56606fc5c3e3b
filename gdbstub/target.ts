// The narrow interface through which the stub sees a machine. The stub knows threads (one
// per PE) by id, registers by number and description, memory as bytes at addresses, and
// execution as a resume plan and a stop; everything architectural (sysregs, translation
// regimes, EL, worlds) stays behind it. What a target can do beyond the base — breakpoints,
// watchpoints, conditions, thread descriptions, symbol lookup — are optional capabilities,
// and `qSupported` advertises exactly the ones present (the Rust `gdbstub` crate's shape).

/** One register as the target description presents it; `regnum` is gdb's number. */
export interface RegisterDescription {
  readonly name: string;
  readonly regnum: number;
  readonly bitsize: number;
  /** A target-description type: 'int', 'code_ptr', 'data_ptr', or a named type of the feature. */
  readonly type: string;
  /** gdb register group ('general', 'system', …); omitted means gdb's default for the type. */
  readonly group?: string;
  /** The feature (target-description section) it belongs to. */
  readonly feature: string;
  /** Read-only registers refuse `P` writes. */
  readonly readOnly?: boolean;
}

/** Extra XML a feature carries before its registers (flag and union types). */
export interface FeatureDescription {
  readonly name: string;
  readonly types?: string;
}

export type BreakpointType = 'sw' | 'hw' | 'write' | 'read' | 'access';
/** Indexed by the type number of `Z`/`z` packets (Z0 software breakpoint … Z4 access watchpoint). */
export const BREAKPOINT_TYPES: readonly BreakpointType[] = ['sw', 'hw', 'write', 'read', 'access'];

/** A thread as gdb numbers it: 1, 2, … (0 and -1 are the protocol's "any" and "all"). */
export type ThreadId = number;

export type ResumeAction = 'step' | 'continue';
/**
 * What each thread does when the target resumes (from `vCont`, `c`, `s`): a thread the plan
 * does not name stays stopped. All-stop: the resume ends for every thread when one stops.
 */
export type ResumePlan = ReadonlyMap<ThreadId, ResumeAction>;

/**
 * The debugger's interrupt (0x03) for one resume. The stub may set it before the target
 * starts running (the byte arrived while the resume was still queued); the target looks at
 * it before it runs anything and between time slices, so an interrupt is never lost.
 */
export class Interrupt {
  private set = false;
  get requested(): boolean {
    return this.set;
  }
  request(): void {
    this.set = true;
  }
}

/** Why the target stopped, as the stop reply reports it. */
export type StopReason =
  { readonly type: 'swbreak' | 'hwbreak' } | { readonly type: 'watch' | 'rwatch' | 'awatch'; readonly addr: bigint };

/**
 * Machine-readable facts about a stop the target raised itself (a catch, a stub-owned
 * breakpoint, a checker): sent to the client in the stop reply's `hypstep` field, which gdb
 * skips as an unknown optional field.
 */
export type StopEvent = Readonly<Record<string, string | number | boolean | null>>;

export type TargetStop =
  | {
      readonly kind: 'stopped';
      /** The thread that caused the stop; in all-stop every thread is stopped with it. */
      readonly thread: ThreadId;
      /** gdb signal number: 5 SIGTRAP, 2 SIGINT, 6 SIGABRT, 0 none. */
      readonly signal: number;
      readonly reason?: StopReason;
      /** Printed by gdb (as console output) before it reports the stop. */
      readonly message?: string;
      readonly event?: StopEvent;
    }
  | { readonly kind: 'exited'; readonly code: number; readonly message?: string };

export const SIGNAL = { NONE: 0, INT: 2, TRAP: 5, ABRT: 6, KILL: 9, SEGV: 11 } as const;

/** Capability: breakpoints and watchpoints (`Z`/`z`). */
export interface Breakpoints {
  /** The `Z` types accepted; `swbreak+`/`hwbreak+` are advertised from this. */
  readonly types: readonly BreakpointType[];
  /**
   * Inserts (idempotently, as the protocol asks: a second insert at the same place replaces
   * the conditions). `conditions` are agent-expression bytecodes, present only when
   * `conditions` below is true: the breakpoint stops when any of them evaluates non-zero.
   * False when the address cannot take one.
   */
  insert(type: BreakpointType, addr: bigint, length: number, conditions?: readonly Uint8Array[]): boolean;
  remove(type: BreakpointType, addr: bigint, length: number): boolean;
  /** Removes every breakpoint and watchpoint gdb inserted (a debugger went away). */
  removeAll(): void;
  /** The target evaluates `Z` conditions itself (`ConditionalBreakpoints+`). */
  readonly conditions?: boolean;
}

/** Capability: gdb looks up symbols for the target (`qSymbol`). */
export interface SymbolLookup {
  /** Symbols the target would like gdb to look up. */
  wanted(): readonly string[];
  /** gdb's answer; undefined when gdb does not know the symbol. */
  found(name: string, value: bigint | undefined): void;
}

/** Capability: told when a debugger comes and goes, so the target can drop what only a debugger needed. */
export interface DebuggerPresence {
  attached(): void;
  left(how: 'detach' | 'kill' | 'drop'): void;
}

export interface Target {
  /** The target-description architecture name, e.g. 'aarch64'. */
  readonly architecture: string;
  readonly features: readonly FeatureDescription[];
  /** Every register, sorted by regnum, numbered without gaps from 0; the same set for every thread. */
  readonly registers: readonly RegisterDescription[];
  /** How many leading registers the `g` packet carries; the rest are read with `p`. */
  readonly gRegisterCount: number;
  /** Registers sent with every stop reply (gdb then needs no round trip for them). */
  readonly expedited: readonly number[];

  /** The threads, in order (never empty); ids are stable for the target's life. */
  threads(): readonly ThreadId[];

  readRegister(thread: ThreadId, regnum: number): bigint | undefined;
  /** False when the register cannot be written (read-only or an invalid value). */
  writeRegister(thread: ThreadId, regnum: number, value: bigint): boolean;

  /**
   * Reads as `thread` sees memory (through the debugger's memory view); returns fewer bytes
   * than asked (possibly none) where memory stops being readable. Never has side effects.
   */
  readMemory(thread: ThreadId, addr: bigint, length: number): Uint8Array;
  /** Writes as `thread` sees memory; false (and nothing written) when any byte is unwritable. */
  writeMemory(thread: ThreadId, addr: bigint, data: Uint8Array): boolean;

  /**
   * Runs the plan until something stops it: a thread's step completes, a breakpoint, an
   * event, an exit, or `interrupt` (then SIGINT, reported on the first thread of the plan).
   * Only one resume is pending at a time.
   */
  resume(plan: ResumePlan, interrupt: Interrupt): Promise<TargetStop>;
  /** True while a resume is pending. */
  readonly running: boolean;

  /** Puts the machine back in its initial state (`monitor reset`). */
  reset(): void;

  // --- optional capabilities ---
  readonly breakpoints?: Breakpoints;
  /** A name for `info threads` (gdb shows it in quotes; `thread name` can change it). */
  threadName?(thread: ThreadId): string;
  /** What the thread is doing, e.g. 'PE1 EL1 guest vmid 2' (qThreadExtraInfo, and `info threads`). */
  threadExtraInfo?(thread: ThreadId): string;
  readonly symbols?: SymbolLookup;
  readonly presence?: DebuggerPresence;
}
