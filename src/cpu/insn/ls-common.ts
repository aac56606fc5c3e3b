// Shared pieces of the load/store tables: base-register access with the SP alignment
// check, alignment checks for exclusives, the data-abort syndrome, an encoding wrapper
// that precomputes operands at decode time, and the operand formatting objdump uses.
import { enc, type AnyEncoding, type Exec, type Fields, type Pick } from '../decode.js';
import { ArchException, EC, defaultTargetEL } from '../../pe/exception.js';
import { AccessType, FSC } from '../../mmu/mmu.js';
import type { Cpu } from '../cpu.js';
import { type Emitter, U } from '../emit.js';
import { setXSP } from '../regs.js';
import { rsp } from './dp-common.js';

/**
 * CheckSPAlignment(): with SCTLR_ELx.SA (SA0 at EL0) set, a load/store whose base is SP
 * takes an SP alignment fault (EC 0x26) unless SP is 16-byte aligned. SCTLR[] is the
 * register of the current translation regime.
 */
export function checkSPAlignment(cpu: Cpu, sp: bigint): void {
  if (!cpu.misaligned(sp, 16)) return;
  const bit = cpu.ps.el === 0 ? 0x10n : 0x8n; // SA0 : SA
  if ((cpu.sctlr() & bit) !== 0n) throw new ArchException(defaultTargetEL(cpu), EC.SP_ALIGN, 0);
}

/** The base address register: X[n], or SP (checked for alignment) when n is 31. */
export function baseReg(cpu: Cpu, n: number): bigint {
  if (n !== 31) return cpu.x[n]!;
  const sp = cpu.getSp();
  checkSPAlignment(cpu, sp);
  return sp;
}

/**
 * The alignment fault of exclusive and ordered accesses, which must be aligned to
 * their whole size (for pairs, the pair) whatever SCTLR_ELx.A says.
 */
export function checkAligned(cpu: Cpu, va: bigint, bytes: number, type: AccessType): void {
  if (cpu.misaligned(va, bytes)) throw cpu.mmu.abort(va, type, FSC.ALIGNMENT);
}

/**
 * ISS[24:14] of a data abort on a single-register load or store, as a stage-2 fault
 * reports it so that a hypervisor can emulate the access: ISV=1, SAS (access size),
 * SSE (sign-extending load), SRT (the register), SF (64-bit register), AR
 * (acquire/release). Instructions for which the ARM ARM makes ISV 0 (pairs,
 * writeback forms, exclusives) pass no syndrome at all.
 */
export function dataAbortSyndrome(
  log2size: number,
  signExtend: boolean,
  rt: number,
  sf64: boolean,
  acqRel: boolean,
): number {
  return (
    (1 << 24) |
    (log2size << 22) |
    ((signExtend ? 1 : 0) << 21) |
    (rt << 16) |
    ((sf64 ? 1 : 0) << 15) |
    ((acqRel ? 1 : 0) << 14)
  );
}

/**
 * Declares an encoding whose operands are computed once, at decode time, from its
 * fields (`prepare`), so the semantics read ready-made numbers. Every object a
 * `prepare` returns comes from one object literal, so they share a hidden class.
 */
export function encPrepared<P extends string, D extends { readonly raw: number }>(
  pattern: P,
  name: string,
  prepare: (f: Fields<P>) => D,
  exec: Exec<D>,
  asm?: (d: D, pc: bigint) => string,
  gen?: (g: Emitter, d: D) => void,
  pick?: Pick<D>,
): AnyEncoding {
  const { mask, value, extract } = enc(pattern, name, () => {});
  return { name, pattern, mask, value, extract: (raw: number) => prepare(extract(raw)), exec, asm, gen, pick };
}

/** The base register for a generator: X[n], or SP with the fast path's condition that it is 16-byte aligned. */
export function genBase(g: Emitter, n: number): { base: string; also?: string } {
  const base = g.xsp(n);
  // CheckSPAlignment: a misaligned SP takes the executor's path, which faults or not as SCTLR says.
  return n === 31 ? { base, also: g.isZero(U(`${base} & 0xfn`)) } : { base };
}

// --- disassembly (objdump's spelling) ------------------------------------------------

/** `[xn]`, `[xn, #imm]`, `[xn, #imm]!` or `[xn], #imm`. */
export function immAddressText(n: number, imm: number, post: boolean, wback: boolean): string {
  if (post) return `[${rsp(n)}], #${imm}`;
  if (wback) return `[${rsp(n)}, #${imm}]!`;
  return imm === 0 ? `[${rsp(n)}]` : `[${rsp(n)}, #${imm}]`;
}

const PRF_TYPE = ['pld', 'pli', 'pst'];
const PRF_TARGET = ['l1', 'l2', 'l3'];

/** A PRFM operation: named (`pldl1keep`) when allocated, else `#0x..`. */
export function prfopText(op: number): string {
  const type = PRF_TYPE[op >>> 3];
  const target = PRF_TARGET[(op >>> 1) & 3];
  if (type === undefined || target === undefined) return `#0x${op.toString(16).padStart(2, '0')}`;
  return `${type}${target}${op & 1 ? 'strm' : 'keep'}`;
}

export { AccessType };

/** The immediate-offset addressing of single and pair forms: base Xn|SP, a byte offset, post-index or not. */
export interface ImmediateAddressing {
  readonly n: number;
  readonly imm: number;
  readonly post: boolean;
}

/** The access's byte offset from the base: the immediate, or 0 for post-index. */
export function accessOffset(d: ImmediateAddressing): number {
  return d.post ? 0 : d.imm;
}

/** The address accessed: the base (post-index) or base + offset (offset and pre-index forms). */
export function immediateAddress(base: bigint, d: ImmediateAddressing): bigint {
  return d.post ? base : BigInt.asUintN(64, base + BigInt(d.imm));
}

/** The writeback of the pre- and post-index forms: both leave base + offset in the base register. */
export function writeback(cpu: Cpu, d: ImmediateAddressing, base: bigint): void {
  setXSP(cpu, d.n, BigInt.asUintN(64, base + BigInt(d.imm)));
}
