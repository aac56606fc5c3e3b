// The narrow interface through which the stub sees a machine. The stub knows registers by
// number and description, memory as bytes at addresses, and execution as resume/stop;
// everything architectural (sysregs, translation regimes, EL) stays behind it.

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

/** Why the target stopped, as the stop reply reports it. */
export type StopReason =
  { readonly type: 'swbreak' | 'hwbreak' } | { readonly type: 'watch' | 'rwatch' | 'awatch'; readonly addr: bigint };

export type TargetStop =
  | {
      readonly kind: 'stopped';
      /** gdb signal number: 5 SIGTRAP, 2 SIGINT, 6 SIGABRT, 0 none. */
      readonly signal: number;
      readonly reason?: StopReason;
      /** Printed by gdb (as console output) before it reports the stop. */
      readonly message?: string;
    }
  | { readonly kind: 'exited'; readonly code: number; readonly message?: string };

export const SIGNAL = { NONE: 0, INT: 2, TRAP: 5, ABRT: 6 } as const;

export interface Target {
  /** The target-description architecture name, e.g. 'aarch64'. */
  readonly architecture: string;
  readonly features: readonly FeatureDescription[];
  /** Every register, sorted by regnum, numbered without gaps from 0. */
  readonly registers: readonly RegisterDescription[];
  /** How many leading registers the `g` packet carries; the rest are read with `p`. */
  readonly gRegisterCount: number;
  /** Registers sent with every stop reply (gdb then needs no round trip for them). */
  readonly expedited: readonly number[];

  readRegister(regnum: number): bigint | undefined;
  /** False when the register cannot be written (read-only or an invalid value). */
  writeRegister(regnum: number, value: bigint): boolean;

  /**
   * Reads through the debugger's current memory view; returns fewer bytes than asked
   * (possibly none) where memory stops being readable. Never has side effects on the guest.
   */
  readMemory(addr: bigint, length: number): Uint8Array;
  /** Writes through the current view; false (and nothing written) when any byte is unwritable. */
  writeMemory(addr: bigint, data: Uint8Array): boolean;

  /** Runs (or single-steps) until something stops it. Only one resume is pending at a time. */
  resume(action: 'step' | 'continue'): Promise<TargetStop>;
  /** Asks a pending resume to stop soon with SIGINT; no effect when stopped. */
  interrupt(): void;
  /** True while a resume is pending. */
  readonly running: boolean;

  /** 'unsupported' for a type the target lacks; false when the address cannot take one. */
  insertBreakpoint(type: BreakpointType, addr: bigint, length: number): boolean | 'unsupported';
  removeBreakpoint(type: BreakpointType, addr: bigint, length: number): boolean | 'unsupported';
  /** Removes every breakpoint and watchpoint (a debugger went away). */
  removeAllBreakpoints(): void;

  /** Puts the machine back in its initial state (the `k` packet and `monitor reset`). */
  reset(): void;

  /** Symbols the target would like gdb to look up (asked through `qSymbol`). */
  wantedSymbols?(): readonly string[];
  /** gdb's answer to a `qSymbol` request; undefined when gdb does not know the symbol. */
  symbolFound?(name: string, value: bigint | undefined): void;
}
