// The emitter: what an instruction's generator (the `gen` of its table row, beside `exec`
// and `asm`) writes its semantics through, so that one description serves the interpreter
// (exec) and the trace compiler (trace.ts) without a second copy keyed by name.
//
// A generator is called once per compiled instruction, with the decoded fields: anything it
// computes from the fields (immediates, masks, shift amounts) is folded at compile time, and
// what it emits is JS source over BigInt values. Registers are locals the compiler reads once
// and writes back at the trace's exits; flags are kept symbolic and computed only where a
// condition or an exit reads them.
//
// Code shape rules for what a generator emits (Node 20, V8 11.3, all measured):
// - every BigInt expression sits in BigInt.asUintN(64, ...) (`U`), constants are BigInt
//   literals (`big`), NOT is written `x ^ mask`;
// - no BigInt comparisons (=== and !== allocate): conditions on values go through `isZero`/`bit`
//   of the emitter, which read the value's int32 halves through a scratch typed array;
// - no `let` holding a BigInt and no BigInt-valued ?: (the optimizer aborts the process on some
//   BigInt phis): every value is a fresh const (`val`); a choice between two values is `choose`
//   (masks, no branch: a branch on data costs a misprediction every other time) or, when a side
//   must not be evaluated (a division by zero), `select`, which passes through memory;
// - the operand of a shift is itself a truncated value (`U(...)` or a name holding one): V8
//   lowers the shift to a machine instruction only then.

/** The emitter a generator writes through. Every string is JS source. */
export interface Emitter {
  /** X[n], the whole 64 bits; register 31 reads as zero. */
  x(n: number): string;
  /** X[n] where register 31 is the current stack pointer. */
  xsp(n: number): string;
  /** X[n] = v (a 64-bit value); writes to register 31 are discarded. */
  setX(n: number, v: string): void;
  /** X[n] = v where register 31 is the current stack pointer. */
  setXsp(n: number, v: string): void;
  /** A fresh const holding the BigInt expression `v` (which must be asUintN-truncated): its name. */
  val(v: string): string;
  /** `c ? a : b` for BigInt `a` and `b` and a JS boolean `c`, evaluating only the side chosen (a branch). */
  select(c: string, a: string, b: string): string;
  /**
   * ConditionHolds(cond) ? a : b for BigInt `a` and `b`, both evaluated: no branch, which a
   * condition on data would mispredict half the time (CSEL and its kin).
   */
  choose(cond: number, a: string, b: string): string;
  /** A JS boolean: whether the BigInt `v` is zero. */
  isZero(v: string): string;
  /** A JS number 0 or 1: bit `n` (0..63) of the BigInt `v`. */
  bit(v: string, n: number): string;
  /** The address of this instruction plus `delta`, as a BigInt expression. */
  pc(delta: number): string;
  /** ConditionHolds(cond) as a JS boolean. */
  cond(cond: number): string;
  /** PSTATE.C as a BigInt 0n or 1n. */
  carry(): string;
  /**
   * PSTATE.NZCV = the flags of AddWithCarry at datasize sf whose operands were `x` and `y`
   * (truncated to the datasize, `y` already inverted for a subtraction) and whose result is `r`.
   */
  flagsAdd(sf: number, x: string, y: string, r: string): void;
  /** PSTATE.NZCV = N and Z of the datasize result `r`, C = V = 0 (the logical S forms). */
  flagsLogic(sf: number, r: string): void;
  /**
   * If ConditionHolds(cond), the flags `set` gives (it calls flagsAdd or flagsLogic on values
   * computed before), else PSTATE.NZCV = nzcv (CCMP, CCMN).
   */
  flagsIf(cond: number, set: () => void, nzcv: number): void;
  /** A JS value the generated code uses by name (a table, a runtime function). */
  ref(v: unknown): string;
  /** The instruction is UNDEFINED: the trace leaves with the exception, taken at this instruction. */
  undefinedInstruction(): void;
  /** BranchTo(PC + offset) if the JS boolean `c` holds ('true' for an unconditional branch). */
  branch(c: string, offset: number): void;
  /** BranchTo(target) for a BigInt target, through AArch64.BranchAddr (BR, BLR, RET). */
  branchTo(target: string): void;
  /**
   * A data access of `count` elements of `size` bytes at the 64-bit address `a.va` (a name).
   * `fast` emits it given the RAM byte offset (a JS number) and runs when the access is aligned
   * to `size`, stays in its page, `a.also` holds, the TLB has the page and nothing else must see
   * the access (Cpu.ramOffset); otherwise the row's executor runs the whole instruction. Register
   * writes in `fast` go to the register file at once.
   */
  access(a: Access, fast: (off: string) => void): void;
  /** `bytes` (1, 2, 4 or 8) of RAM at byte offset `off` (aligned to them), zero-extended, as a BigInt. */
  load(off: string, bytes: number): string;
  /** Stores the low `bytes` (1, 2, 4 or 8) of the BigInt `v` at RAM byte offset `off` (aligned to them). */
  store(off: string, bytes: number, v: string): void;
  /**
   * This instance runs its row's executor (forms too rare to be worth inlining). `leaves`: the
   * executor never goes on to the next instruction (it returns from or takes an exception), so
   * the compiled path ends here and what follows is not on it.
   */
  exec(leaves?: boolean): void;
}

/** What Emitter.access needs to know of a load or store. */
export interface Access {
  readonly va: string;
  readonly size: number;
  readonly count: number;
  readonly write: boolean;
  /** LDTR/STTR: the EL0 permissions where the MMU says so. */
  readonly unprivileged?: boolean;
  /** A further JS boolean the fast path needs (the SP alignment check of an SP base). */
  readonly also?: string;
}

/** A generator: the instruction's semantics, emitted for decoded fields `d`. */
export type Gen<F> = (g: Emitter, d: F) => void;

/** BigInt.asUintN(64, e). */
export const U = (e: string): string => `BigInt.asUintN(64, ${e})`;
/** A BigInt literal. */
export const big = (v: bigint | number): string => `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}n`;
/** The datasize mask for sf, as a literal. */
export const wmask = (sf: number): string => (sf !== 0 ? '0xffffffffffffffffn' : '0xffffffffn');

/** X[n] truncated to the datasize (a name or literal). */
export function xw(g: Emitter, n: number, sf: number): string {
  const v = g.x(n);
  return sf !== 0 || v === '0n' ? v : g.val(U(`${v} & 0xffffffffn`));
}

/** XSP[n] truncated to the datasize. */
export function xspw(g: Emitter, n: number, sf: number): string {
  const v = g.xsp(n);
  return sf !== 0 ? v : g.val(U(`${v} & 0xffffffffn`));
}
