// Load/store exclusive (LDXR/STXR, LDAXR/STLXR, LDXP/STXP, LDAXP/STLXP, byte and halfword
// forms) over the CPU's local exclusive monitor, and load-acquire/store-release
// (LDAR/STLR and their byte and halfword forms).
//
// CAS and CASP, in the same space, are FEAT_LSE's (ls-atomic.ts). Not here, so UNDEFINED:
// LDLAR/STLLR (FEAT_LOR), LDAPUR/STLUR (FEAT_LRCPC2) — neither is advertised in the ID registers.
// The Rs and Rt2 fields that the single-register forms do not use "should be" ones;
// other values are CONSTRAINED UNPREDICTABLE and behave here as if they were ones.
import type { AnyEncoding } from '../decode.js';
import { X, setX } from '../regs.js';
import { undefinedInstruction } from '../../pe/exception.js';
import type { Cpu } from '../cpu.js';
import { ACC_ALIGNED } from '../access.js';
import { baseReg, checkAligned, dataAbortSyndrome, encPrepared, AccessType } from './ls-common.js';
import { rz, rsp } from './dp-common.js';

interface Exclusive {
  readonly raw: number;
  readonly t: number;
  readonly t2: number;
  /** The status register of a store-exclusive. */
  readonly s: number;
  readonly n: number;
  /** Bytes per register, and of the whole access (the reservation, and the alignment required). */
  readonly bytes: number;
  readonly total: number;
  readonly pair: boolean;
  readonly sf: boolean;
  /** ACC_ALIGNED, plus the data-abort syndrome for LDAR/STLR (exclusives report ISV=0). */
  readonly flags: number;
  /**
   * CONSTRAINED UNPREDICTABLE register overlaps, for which hypstep takes the permitted
   * UNDEFINED: LDXP with Rt == Rt2; a store-exclusive whose status register is a data
   * register, or the base register (SP excepted).
   */
  readonly undef: boolean;
  /** A store-exclusive, which writes the status register. */
  readonly hasStatus: boolean;
  readonly mnemonic: string;
}

const SUFFIX = ['b', 'h', '', ''];

function decodeExclusive(
  raw: number,
  log2: number,
  pair: boolean,
  load: boolean,
  ordered: boolean,
  o0: number,
  s: number,
  t2: number,
  n: number,
  t: number,
): Exclusive {
  const bytes = 1 << log2;
  const sf = log2 === 3;
  let mnemonic: string;
  if (ordered) mnemonic = `${load ? 'ldar' : 'stlr'}${SUFFIX[log2]}`;
  else mnemonic = `${load ? 'ld' : 'st'}${o0 ? (load ? 'a' : 'l') : ''}x${pair ? 'p' : `r${SUFFIX[log2]}`}`;
  const undef =
    pair && load ? t === t2 : !load && !ordered ? s === t || (pair && s === t2) || (s === n && n !== 31) : false;
  return {
    raw,
    t,
    t2: pair ? t2 : 31,
    s,
    n,
    bytes,
    total: pair ? 2 * bytes : bytes,
    pair,
    sf,
    flags: ACC_ALIGNED | (ordered ? dataAbortSyndrome(log2, false, t, sf, true) : 0),
    undef,
    hasStatus: !load && !ordered,
    mnemonic,
  };
}

/** LDXR, LDAXR, LDXP, LDAXP: load, then open a reservation on the whole access. */
function loadExclusive(cpu: Cpu, d: Exclusive): void {
  if (d.undef) throw undefinedInstruction(cpu);
  const address = baseReg(cpu, d.n);
  checkAligned(cpu, address, d.total, AccessType.Read);
  if (!d.pair) {
    const v = cpu.read(address, d.bytes, d.flags);
    cpu.exclusiveMark(address, d.total);
    setX(cpu, d.t, v);
  } else if (d.bytes === 4) {
    // One 64-bit access; the first register takes the word at the lower address.
    const v = cpu.read(address, 8, d.flags);
    cpu.exclusiveMark(address, 8);
    setX(cpu, d.t, BigInt.asUintN(32, v));
    setX(cpu, d.t2, v >> 32n);
  } else {
    const v1 = cpu.read(address, 8, d.flags);
    const v2 = cpu.read(BigInt.asUintN(64, address + 8n), 8, d.flags);
    cpu.exclusiveMark(address, 16);
    setX(cpu, d.t, v1);
    setX(cpu, d.t2, v2);
  }
}

/**
 * STXR, STLXR, STXP, STLXP: AArch64.ExclusiveMonitorsPass (alignment fault first, then
 * translation, then the reservation check, which closes it), the store only if it
 * passed, and Ws = 0 on success, 1 on failure.
 */
function storeExclusive(cpu: Cpu, d: Exclusive): void {
  if (d.undef) throw undefinedInstruction(cpu);
  const address = baseReg(cpu, d.n);
  checkAligned(cpu, address, d.total, AccessType.Write);
  let status = 1n;
  if (cpu.exclusivePass(address, d.total, d.flags)) {
    if (!d.pair) {
      cpu.write(address, d.bytes, X(cpu, d.t), d.flags);
    } else if (d.bytes === 4) {
      cpu.write(address, 8, (BigInt.asUintN(32, X(cpu, d.t2)) << 32n) | BigInt.asUintN(32, X(cpu, d.t)), d.flags);
    } else {
      cpu.write(address, 8, X(cpu, d.t), d.flags);
      cpu.write(BigInt.asUintN(64, address + 8n), 8, X(cpu, d.t2), d.flags);
    }
    status = 0n;
  }
  setX(cpu, d.s, status);
}

/** LDAR: an ordinary load that must be aligned (this emulator has one PE and no reordering). */
function loadAcquire(cpu: Cpu, d: Exclusive): void {
  setX(cpu, d.t, cpu.read(baseReg(cpu, d.n), d.bytes, d.flags));
}

function storeRelease(cpu: Cpu, d: Exclusive): void {
  cpu.write(baseReg(cpu, d.n), d.bytes, X(cpu, d.t), d.flags);
}

function exclusiveText(d: Exclusive): string {
  const status = d.hasStatus ? `${rz(d.s, false)}, ` : '';
  const second = d.pair ? `${rz(d.t2, d.sf)}, ` : '';
  return `${d.mnemonic}\t${status}${rz(d.t, d.sf)}, ${second}[${rsp(d.n)}]`;
}

export const EXCLUSIVES: readonly AnyEncoding[] = [
  encPrepared(
    'size:2 001000 0 0 0 Rs:5 o0:1 Rt2:5 Rn:5 Rt:5',
    'STXR/STLXR',
    (f) => decodeExclusive(f.raw, f.size, false, false, false, f.o0, f.Rs, f.Rt2, f.Rn, f.Rt),
    storeExclusive,
    exclusiveText,
  ),
  encPrepared(
    'size:2 001000 0 1 0 Rs:5 o0:1 Rt2:5 Rn:5 Rt:5',
    'LDXR/LDAXR',
    (f) => decodeExclusive(f.raw, f.size, false, true, false, f.o0, f.Rs, f.Rt2, f.Rn, f.Rt),
    loadExclusive,
    exclusiveText,
  ),
  encPrepared(
    '1 sz:1 001000 0 0 1 Rs:5 o0:1 Rt2:5 Rn:5 Rt:5',
    'STXP/STLXP',
    (f) => decodeExclusive(f.raw, 2 + f.sz, true, false, false, f.o0, f.Rs, f.Rt2, f.Rn, f.Rt),
    storeExclusive,
    exclusiveText,
  ),
  encPrepared(
    '1 sz:1 001000 0 1 1 Rs:5 o0:1 Rt2:5 Rn:5 Rt:5',
    'LDXP/LDAXP',
    (f) => decodeExclusive(f.raw, 2 + f.sz, true, true, false, f.o0, f.Rs, f.Rt2, f.Rn, f.Rt),
    loadExclusive,
    exclusiveText,
  ),
  encPrepared(
    'size:2 001000 1 0 0 Rs:5 1 Rt2:5 Rn:5 Rt:5',
    'STLR',
    (f) => decodeExclusive(f.raw, f.size, false, false, true, 1, f.Rs, f.Rt2, f.Rn, f.Rt),
    storeRelease,
    exclusiveText,
  ),
  encPrepared(
    'size:2 001000 1 1 0 Rs:5 1 Rt2:5 Rn:5 Rt:5',
    'LDAR',
    (f) => decodeExclusive(f.raw, f.size, false, true, true, 1, f.Rs, f.Rt2, f.Rn, f.Rt),
    loadAcquire,
    exclusiveText,
  ),
];
