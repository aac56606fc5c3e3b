// Register-operand access as the ARM ARM pseudocode names it: X[n] (31 = XZR) and
// the SP-capable forms used where register 31 means the stack pointer.
import type { Cpu } from './cpu.js';

/** X[n]: register 31 reads as zero. */
export function X(cpu: Cpu, n: number): bigint {
  return cpu.x[n]!;
}

/** X[n] = v: writes to register 31 (XZR) are discarded. */
export function setX(cpu: Cpu, n: number, v: bigint): void {
  if (n !== 31) cpu.x[n] = v;
}

/** W[n] = v: writes the low 32 bits, zero-extending. */
export function setW(cpu: Cpu, n: number, v: bigint): void {
  if (n !== 31) cpu.x[n] = BigInt.asUintN(32, v);
}

/** X[n] where register 31 is SP. */
export function XSP(cpu: Cpu, n: number): bigint {
  return n === 31 ? cpu.getSp() : cpu.x[n]!;
}

/** X[n] = v where register 31 is SP. */
export function setXSP(cpu: Cpu, n: number, v: bigint): void {
  if (n === 31) cpu.setSp(v);
  else cpu.x[n] = v;
}
