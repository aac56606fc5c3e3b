// FEAT_LSE, the Armv8.1 atomics: the atomic memory operations LD<op> (ADD, CLR, EOR, SET, SMAX,
// SMIN, UMAX, UMIN) and SWP, compare and swap CAS and CASP, in every size (B, H, W, X) and ordering
// (none, A, L, AL), and the ST<op> aliases (LD<op> with Rt = ZR and no acquire), after the ARM
// ARM's MemAtomic and MemAtomicCompareAndSwap.
//
// An atomic is one instruction, so it is single-copy atomic by construction under the round-robin
// scheduler: no other PE runs between its read and its write. Its checks (Cpu.atomicAccess) all come
// before the read, so one that faults writes nothing. The acquire and release orderings change
// nothing in an emulator that performs every access in program order; they are decoded and printed.
//
// Not here, so UNDEFINED: LDAPR (FEAT_LRCPC, the o3=1 opc=100 slot), the FEAT_LSE128 and
// FEAT_LSFE operations, CAS and CASP with Rt2 other than 11111 (objdump and QEMU take them as
// unallocated too), and CASP with an odd Rs or Rt.
import type { AnyEncoding } from '../decode.js';
import { X, setX } from '../regs.js';
import type { Cpu } from '../cpu.js';
import { baseReg, encPrepared } from './ls-common.js';
import { rz, rsp, unallocated } from './dp-common.js';

/** MemAtomicOp, in the order of the opc field (o3=0), then SWP. */
const enum MemAtomicOp {
  ADD = 0,
  BIC = 1,
  EOR = 2,
  ORR = 3,
  SMAX = 4,
  SMIN = 5,
  UMAX = 6,
  UMIN = 7,
  SWP = 8,
}

const OP_NAMES = ['add', 'clr', 'eor', 'set', 'smax', 'smin', 'umax', 'umin', 'swp'];
const SIZE_SUFFIX = ['b', 'h', '', ''];

interface Atomic {
  readonly raw: number;
  readonly s: number;
  readonly t: number;
  readonly n: number;
  /** Bytes per register (CASP accesses two). */
  readonly bytes: number;
  readonly bits: number;
  /** 64-bit registers. */
  readonly sf: boolean;
  readonly op: MemAtomicOp;
  /** Mnemonic with its ordering and size suffixes (the ST<op> alias's for LD<op> with Rt = ZR and A = 0). */
  readonly mnemonic: string;
  readonly alias: boolean;
}

/** Which instruction of the group: the mnemonic's stem. */
type Kind = 'ld' | 'swp' | 'cas' | 'casp';

function decodeAtomic(
  raw: number,
  kind: Kind,
  log2: number,
  op: MemAtomicOp,
  acquire: number,
  release: number,
  s: number,
  n: number,
  t: number,
): Atomic {
  const alias = kind === 'ld' && t === 31 && acquire === 0;
  const order = `${acquire ? 'a' : ''}${release ? 'l' : ''}`;
  const suffix = kind === 'casp' ? '' : SIZE_SUFFIX[log2]!;
  const stem = kind === 'ld' ? `${alias ? 'st' : 'ld'}${OP_NAMES[op]}` : kind;
  return {
    raw,
    s,
    t,
    n,
    bytes: 1 << log2,
    bits: 8 << log2,
    sf: log2 === 3,
    op,
    mnemonic: `${stem}${alias ? (release ? 'l' : '') : order}${suffix}`,
    alias,
  };
}

/** The new memory value of MemAtomic: `old` combined with `value`, both `bits` wide. */
function memAtomicOp(op: MemAtomicOp, old: bigint, value: bigint, bits: number): bigint {
  switch (op) {
    case MemAtomicOp.ADD:
      return BigInt.asUintN(bits, old + value);
    case MemAtomicOp.BIC:
      return old & ~value & ((1n << BigInt(bits)) - 1n);
    case MemAtomicOp.EOR:
      return old ^ value;
    case MemAtomicOp.ORR:
      return old | value;
    case MemAtomicOp.SMAX:
      return BigInt.asIntN(bits, old) > BigInt.asIntN(bits, value) ? old : value;
    case MemAtomicOp.SMIN:
      return BigInt.asIntN(bits, old) > BigInt.asIntN(bits, value) ? value : old;
    case MemAtomicOp.UMAX:
      return old > value ? old : value;
    case MemAtomicOp.UMIN:
      return old > value ? value : old;
    case MemAtomicOp.SWP:
      return value;
  }
}

/** LD<op>, ST<op>, SWP: MemAtomic; Rt receives the old value (zero-extended). */
function memAtomic(cpu: Cpu, d: Atomic): void {
  const address = baseReg(cpu, d.n);
  const value = BigInt.asUintN(d.bits, X(cpu, d.s));
  const pa = cpu.atomicAccess(address, d.bytes);
  const old = cpu.atomicRead(address, pa, d.bytes);
  cpu.atomicWrite(address, pa, d.bytes, memAtomicOp(d.op, old, value, d.bits), old);
  setX(cpu, d.t, old);
}

/** CAS: MemAtomicCompareAndSwap; Rs receives the old value whether or not it matched. */
function compareAndSwap(cpu: Cpu, d: Atomic): void {
  const address = baseReg(cpu, d.n);
  const expected = BigInt.asUintN(d.bits, X(cpu, d.s));
  const newValue = BigInt.asUintN(d.bits, X(cpu, d.t));
  const pa = cpu.atomicAccess(address, d.bytes);
  const old = cpu.atomicRead(address, pa, d.bytes);
  if (old === expected) cpu.atomicWrite(address, pa, d.bytes, newValue, old);
  setX(cpu, d.s, old);
}

/**
 * CASP: the pair <Rs, Rs+1> compared with, and <Rt, Rt+1> swapped into, 2 × datasize bits of memory
 * aligned to their whole size, the first register of each pair at the lower address; <Rs, Rs+1>
 * receive the old pair (Rs = 30 pairs with ZR).
 */
function compareAndSwapPair(cpu: Cpu, d: Atomic): void {
  const address = baseReg(cpu, d.n);
  const s2 = d.s + 1,
    t2 = d.t + 1;
  if (!d.sf) {
    const expected = (BigInt.asUintN(32, X(cpu, s2)) << 32n) | BigInt.asUintN(32, X(cpu, d.s));
    const newValue = (BigInt.asUintN(32, X(cpu, t2)) << 32n) | BigInt.asUintN(32, X(cpu, d.t));
    const pa = cpu.atomicAccess(address, 8);
    const old = cpu.atomicRead(address, pa, 8);
    if (old === expected) cpu.atomicWrite(address, pa, 8, newValue, old);
    setX(cpu, d.s, BigInt.asUintN(32, old));
    setX(cpu, s2, old >> 32n);
    return;
  }
  const e1 = X(cpu, d.s),
    e2 = X(cpu, s2),
    n1 = X(cpu, d.t),
    n2 = X(cpu, t2);
  const high = BigInt.asUintN(64, address + 8n);
  const pa = cpu.atomicAccess(address, 16);
  const o1 = cpu.atomicRead(address, pa, 8);
  const o2 = cpu.atomicRead(high, pa + 8, 8);
  if (o1 === e1 && o2 === e2) {
    cpu.atomicWrite(address, pa, 8, n1, o1);
    cpu.atomicWrite(high, pa + 8, 8, n2, o2);
  }
  setX(cpu, d.s, o1);
  setX(cpu, s2, o2);
}

function atomicText(d: Atomic): string {
  const base = `[${rsp(d.n)}]`;
  if (d.alias) return `${d.mnemonic}\t${rz(d.s, d.sf)}, ${base}`;
  return `${d.mnemonic}\t${rz(d.s, d.sf)}, ${rz(d.t, d.sf)}, ${base}`;
}

function pairText(d: Atomic): string {
  const r = (n: number) => rz(n, d.sf);
  return `${d.mnemonic}\t${r(d.s)}, ${r(d.s + 1)}, ${r(d.t)}, ${r(d.t + 1)}, [${rsp(d.n)}]`;
}

export const ATOMICS: readonly AnyEncoding[] = [
  // Atomic memory operations: size 111 V=0 00 A R 1 Rs o3 opc 00 Rn Rt.
  encPrepared(
    'size:2 111 0 00 A:1 R:1 1 Rs:5 0 opc:3 00 Rn:5 Rt:5',
    'LD<op>/ST<op>',
    (f) => decodeAtomic(f.raw, 'ld', f.size, f.opc, f.A, f.R, f.Rs, f.Rn, f.Rt),
    memAtomic,
    atomicText,
  ),
  encPrepared(
    'size:2 111 0 00 A:1 R:1 1 Rs:5 1 000 00 Rn:5 Rt:5',
    'SWP',
    (f) => decodeAtomic(f.raw, 'swp', f.size, MemAtomicOp.SWP, f.A, f.R, f.Rs, f.Rn, f.Rt),
    memAtomic,
    atomicText,
  ),
  // Compare and swap, in the exclusives' space: size 001000 o2=1 L o1=1 Rs o0 Rt2=11111 Rn Rt.
  encPrepared(
    'size:2 001000 1 L:1 1 Rs:5 o0:1 11111 Rn:5 Rt:5',
    'CAS',
    (f) => decodeAtomic(f.raw, 'cas', f.size, MemAtomicOp.SWP, f.L, f.o0, f.Rs, f.Rn, f.Rt),
    compareAndSwap,
    atomicText,
  ),
  unallocated('0 x 001000 0 x 1 xxxx1 x 11111 xxxxx xxxxx', 'CASP with an odd Rs'),
  unallocated('0 x 001000 0 x 1 xxxxx x 11111 xxxxx xxxx1', 'CASP with an odd Rt'),
  encPrepared(
    '0 sz:1 001000 0 L:1 1 Rs:5 o0:1 11111 Rn:5 Rt:5',
    'CASP',
    (f) => decodeAtomic(f.raw, 'casp', 2 + f.sz, MemAtomicOp.SWP, f.L, f.o0, f.Rs, f.Rn, f.Rt),
    compareAndSwapPair,
    pairText,
  ),
];
