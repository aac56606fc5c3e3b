// Load/store pair: LDP/STP (32- and 64-bit), LDPSW, LDNP/STNP, in the signed-offset,
// pre-index and post-index forms. Data aborts on pairs report ISV=0, so no syndrome.
import type { AnyEncoding } from '../decode.js';
import { X, setX } from '../regs.js';
import { sextNum } from '../bits.js';
import { undefinedInstruction } from '../../pe/exception.js';
import { unallocated, rz } from './dp-common.js';
import { encPrepared, immAddressText, accessOffset, baseReg, writeback, genBase } from './ls-common.js';
import { type Emitter, U, big } from '../emit.js';
import type { Cpu } from '../cpu.js';

/** bits [24:23]: no-allocate (signed offset), post-index, signed offset, pre-index. */
const enum Index {
  NoAllocate = 0,
  Post = 1,
  Offset = 2,
  Pre = 3,
}

interface Pair {
  readonly raw: number;
  readonly t: number;
  readonly t2: number;
  readonly n: number;
  /** Bytes per register. */
  readonly bytes: number;
  /** LDPSW: each word sign-extended to 64 bits. */
  readonly signed: boolean;
  readonly sf: boolean;
  readonly imm: number;
  readonly post: boolean;
  readonly wback: boolean;
  /**
   * The CONSTRAINED UNPREDICTABLE register overlaps: LDP with Rt == Rt2 (LDPOVERLAP),
   * and writeback with Rn equal to Rt or Rt2 (WBOVERLAPLD/ST), SP excepted. hypstep
   * takes the permitted UNDEFINED for all of them.
   */
  readonly undef: boolean;
  readonly mnemonic: string;
}

function decodePair(
  raw: number,
  opc: number,
  idx: Index,
  load: boolean,
  imm7: number,
  t2: number,
  n: number,
  t: number,
): Pair {
  const scale = opc === 2 ? 3 : 2;
  const wback = idx === Index.Post || idx === Index.Pre;
  const signed = opc === 1;
  return {
    raw,
    t,
    t2,
    n,
    bytes: 1 << scale,
    signed,
    sf: opc !== 0,
    imm: sextNum(imm7, 7) << scale,
    post: idx === Index.Post,
    wback,
    undef: (load && t === t2) || (wback && n !== 31 && (n === t || n === t2)),
    mnemonic: `${load ? 'ld' : 'st'}${idx === Index.NoAllocate ? 'np' : 'p'}${signed ? 'sw' : ''}`,
  };
}

function loadPair(cpu: Cpu, d: Pair): void {
  if (d.undef) throw undefinedInstruction(cpu);
  const base = baseReg(cpu, d.n);
  const at = accessOffset(d);
  // Both reads complete before either register changes, so a fault on the second leaves Rt intact.
  let v1 = cpu.readAt(base, at, d.bytes, 0);
  let v2 = cpu.readAt(base, at + d.bytes, d.bytes, 0);
  if (d.signed) {
    v1 = BigInt.asUintN(64, BigInt.asIntN(32, v1));
    v2 = BigInt.asUintN(64, BigInt.asIntN(32, v2));
  }
  setX(cpu, d.t, v1);
  setX(cpu, d.t2, v2);
  if (d.wback) writeback(cpu, d, base);
}

function storePair(cpu: Cpu, d: Pair): void {
  if (d.undef) throw undefinedInstruction(cpu);
  const base = baseReg(cpu, d.n);
  const at = accessOffset(d);
  cpu.writeAt(base, at, d.bytes, X(cpu, d.t), 0);
  cpu.writeAt(base, at + d.bytes, d.bytes, X(cpu, d.t2), 0);
  if (d.wback) writeback(cpu, d, base);
}

// The hot shapes, picked at decode: LDP and STP at an offset from a base other than SP, without
// writeback (function prologues and epilogues save and restore registers through SP with
// writeback; structures are copied through other bases).
function loadPairOffset(cpu: Cpu, d: Pair): void {
  const base = X(cpu, d.n);
  const v1 = cpu.readAt(base, d.imm, d.bytes, 0);
  const v2 = cpu.readAt(base, d.imm + d.bytes, d.bytes, 0);
  setX(cpu, d.t, v1);
  setX(cpu, d.t2, v2);
}

function storePairOffset(cpu: Cpu, d: Pair): void {
  const base = X(cpu, d.n);
  cpu.writeAt(base, d.imm, d.bytes, X(cpu, d.t), 0);
  cpu.writeAt(base, d.imm + d.bytes, d.bytes, X(cpu, d.t2), 0);
}

/** Both pair forms, as loadPair and storePair do them. */
function genPair(g: Emitter, d: Pair, load: boolean): void {
  if (d.undef) {
    g.undefinedInstruction();
    return;
  }
  const { base, also } = genBase(g, d.n);
  const address = d.post || d.imm === 0 ? base : g.val(U(`${base} + ${big(d.imm)}`));
  g.access({ va: address, size: d.bytes, count: 2, write: !load, also }, (off) => {
    const second = `(${off} + ${d.bytes})`;
    if (load) {
      const ext = (v: string): string => (d.signed ? U(`(${v} ^ 0x80000000n) - 0x80000000n`) : v);
      const v1 = g.val(g.load(off, d.bytes));
      const v2 = g.val(g.load(second, d.bytes));
      g.setX(d.t, ext(v1));
      g.setX(d.t2, ext(v2));
    } else {
      g.store(off, d.bytes, g.x(d.t));
      g.store(second, d.bytes, g.x(d.t2));
    }
    if (d.wback) g.setXsp(d.n, d.post ? U(`${address} + ${big(d.imm)}`) : address);
  });
}

function pairText(d: Pair): string {
  return `${d.mnemonic}\t${rz(d.t, d.sf)}, ${rz(d.t2, d.sf)}, ${immAddressText(d.n, d.imm, d.post, d.wback)}`;
}

export const PAIRS: readonly AnyEncoding[] = [
  unallocated('11 101 0 0xx x xxxxxxx xxxxx xxxxx xxxxx', 'load/store pair opc=11'),
  // opc = 01 with L = 0 is STGP (FEAT_MTE, not implemented); LDPSW has no no-allocate form.
  unallocated('01 101 0 0xx 0 xxxxxxx xxxxx xxxxx xxxxx', 'STGP'),
  unallocated('01 101 0 000 1 xxxxxxx xxxxx xxxxx xxxxx', 'no-allocate LDPSW'),
  encPrepared(
    'opc:2 101 0 0 idx:2 0 imm7:7 Rt2:5 Rn:5 Rt:5',
    'STP/STNP',
    (f) => decodePair(f.raw, f.opc, f.idx, false, f.imm7, f.Rt2, f.Rn, f.Rt),
    storePair,
    pairText,
    (g, d) => genPair(g, d, false),
    (d) => (!d.undef && !d.wback && d.n !== 31 ? storePairOffset : undefined),
  ),
  encPrepared(
    'opc:2 101 0 0 idx:2 1 imm7:7 Rt2:5 Rn:5 Rt:5',
    'LDP/LDNP/LDPSW',
    (f) => decodePair(f.raw, f.opc, f.idx, true, f.imm7, f.Rt2, f.Rn, f.Rt),
    loadPair,
    pairText,
    (g, d) => genPair(g, d, true),
    (d) => (!d.undef && !d.wback && d.n !== 31 && !d.signed ? loadPairOffset : undefined),
  ),
];
