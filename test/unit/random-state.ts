// What the executor comparisons of test/unit share: two PEs on the same random RAM, random
// register values, a PE's state set from them, and the outcome of running one instruction.
import { Cpu } from '../../src/cpu/cpu.js';
import { PhysBus } from '../../src/board/bus.js';
import { ArchException } from '../../src/pe/exception.js';
import type { AnyEncoding } from '../../src/cpu/decode.js';
import { PAIRS } from '../../src/cpu/insn/ls-pair.js';
import { SINGLE_REGISTER } from '../../src/cpu/insn/ls-single.js';
import { BOUNDARY_VALUES } from './dataproc-harness.js';

/** The rows whose registers are mostly addresses (`address` below). */
export const MEMORY_ROWS: ReadonlySet<AnyEncoding> = new Set([...PAIRS, ...SINGLE_REGISTER]);

export interface ComparedPes {
  a: Cpu;
  b: Cpu;
  /** A register value: random, a quarter of them boundary values. */
  value: () => bigint;
  /**
   * A register value for loads and stores: mostly an address in the RAM (the fast path), some
   * anywhere (aborts, the executor's path).
   */
  address: () => bigint;
}

/** Two PEs with the MMU off on RAM of the same random bytes, and the values to give their registers. */
export function comparedPes(next: () => number): ComparedPes {
  const RAM = 0x4000_0000;
  const RAM_SIZE = 1 << 16;
  const a = new Cpu(new PhysBus(RAM, RAM_SIZE));
  const b = new Cpu(new PhysBus(RAM, RAM_SIZE));
  for (let i = 0; i < RAM_SIZE; i++) a.bus.ram[i] = b.bus.ram[i] = next() & 0xff;
  const value = (): bigint =>
    next() % 4 === 0 ? BOUNDARY_VALUES[next() % BOUNDARY_VALUES.length]! : (BigInt(next()) << 32n) | BigInt(next());
  const address = (): bigint => {
    const r = next() % 10;
    if (r < 6) return BigInt(RAM + (next() % RAM_SIZE)) & (r < 4 ? ~7n : ~0n);
    return r < 9 ? BigInt(next() % 0x1000) : value();
  };
  return { a, b, value, address };
}

/** General-purpose registers, SP_EL0..SP_EL2, NZCV, the EL and PSTATE.SP to give each PE compared. */
export interface PeState {
  regs: readonly bigint[];
  sps: readonly bigint[];
  nzcv: number;
  el: number;
  sp: number;
}

export function setState(c: Cpu, s: PeState): void {
  s.regs.forEach((v, i) => (c.x[i] = v));
  s.sps.forEach((v, i) => (c.spEl[i] = v));
  c.ps.nzcv = s.nzcv;
  c.ps.el = s.el;
  c.ps.sp = s.sp;
}

/** Runs `f`, returning the exception class and syndrome it threw, or '' (anything else escapes). */
export function outcome(f: () => void): string {
  try {
    f();
    return '';
  } catch (e) {
    if (e instanceof ArchException) return `exception ${e.ec}/${e.iss}`;
    throw e;
  }
}
