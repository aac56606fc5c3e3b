// Shared pieces of the SIMD&FP tables: element access to V[n] (Elem[] in the ARM ARM), memory
// transfers of up to 128 bits, and the operand spelling objdump uses (b0, q3, v1.4s, {v0.16b-v2.16b}).
import type { Cpu } from '../cpu.js';
import type { VRegs } from '../vregs.js';

/** Elem[V[n], e, 8 << size] as an unsigned value. */
export function elem(v: VRegs, n: number, e: number, size: number): bigint {
  switch (size) {
    case 0:
      return BigInt(v.b[n * 16 + e]!);
    case 1:
      return BigInt(v.h[n * 8 + e]!);
    case 2:
      return BigInt(v.s[n * 4 + e]!);
    default:
      return v.d[n * 2 + e]!;
  }
}

/** Elem[V[n], e, 8 << size] = value (truncated to the element). */
export function setElem(v: VRegs, n: number, e: number, size: number, value: bigint): void {
  switch (size) {
    case 0:
      v.b[n * 16 + e] = Number(value & 0xffn);
      return;
    case 1:
      v.h[n * 8 + e] = Number(value & 0xffffn);
      return;
    case 2:
      v.s[n * 4 + e] = Number(value & 0xffff_ffffn);
      return;
    default:
      v.d[n * 2 + e] = BigInt.asUintN(64, value);
  }
}

/** V[n] = a value of `bytes` bytes (1, 2, 4, 8 or 16), zero-extended to 128 bits as every write is. */
export function setV(v: VRegs, n: number, bytes: number, value: bigint): void {
  v.d[2 * n] = BigInt.asUintN(64, bytes >= 8 ? value : BigInt.asUintN(bytes * 8, value));
  v.d[2 * n + 1] = bytes === 16 ? BigInt.asUintN(64, value >> 64n) : 0n;
}

/** The low `bytes` bytes of V[n]. */
export function getV(v: VRegs, n: number, bytes: number): bigint {
  if (bytes === 16) return v.q(n);
  return bytes === 8 ? v.d[2 * n]! : BigInt.asUintN(bytes * 8, v.d[2 * n]!);
}

/** Mem[va, bytes] for a SIMD&FP transfer (two doublewords for 128 bits, the lower address first). */
export function readMem(cpu: Cpu, va: bigint, bytes: number): bigint {
  if (bytes < 16) return cpu.read(va, bytes, 0);
  const lo = cpu.read(va, 8, 0);
  return (cpu.read(BigInt.asUintN(64, va + 8n), 8, 0) << 64n) | lo;
}

export function writeMem(cpu: Cpu, va: bigint, bytes: number, value: bigint): void {
  if (bytes < 16) {
    cpu.write(va, bytes, value, 0);
    return;
  }
  cpu.write(va, 8, BigInt.asUintN(64, value), 0);
  cpu.write(BigInt.asUintN(64, va + 8n), 8, BigInt.asUintN(64, value >> 64n), 0);
}

// --- disassembly ---------------------------------------------------------------------

/** Scalar register names by log2 of the size in bytes: b, h, s, d, q. */
export const SCALAR = ['b', 'h', 's', 'd', 'q'];

/** A scalar register: `s3`. */
export function fr(log2bytes: number, n: number): string {
  return `${SCALAR[log2bytes]}${n}`;
}

/** The arrangement specifier of element size `size` (0–3) and Q: 8b, 16b, 4h, 8h, 2s, 4s, 1d, 2d. */
export function arrangement(size: number, q: number): string {
  return `${(q ? 16 : 8) >> size}${'bhsd'[size]}`;
}

/** A vector register with its arrangement: `v3.4s`. */
export function vr(n: number, arr: string): string {
  return `v${n}.${arr}`;
}

/** A register list as objdump prints it: `{v0.4s}`, `{v0.4s, v1.4s}`, `{v0.4s-v2.4s}`, wrapping ones in full. */
export function vlist(t: number, count: number, arr: string): string {
  if (count >= 3 && t + count <= 32) return `{v${t}.${arr}-v${t + count - 1}.${arr}}`;
  return `{${Array.from({ length: count }, (_, i) => `v${(t + i) % 32}.${arr}`).join(', ')}}`;
}
