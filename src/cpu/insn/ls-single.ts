// Loads and stores of one general-purpose register: LDR/STR and their byte, halfword and
// sign-extending variants in the unsigned-offset, unscaled (LDUR/STUR), pre-index,
// post-index, unprivileged (LDTR/STTR), register-offset and literal forms, and the
// prefetches (PRFM/PRFUM), which are no-ops here.
//
// The ARM ARM's shared decode of these forms, from size and opc:
//   opc<1> = 0: a store (opc<0> = 0) or a zero-extending load (opc<0> = 1);
//               the register is X when size = 11, else W.
//   opc<1> = 1: size = 11 is PRFM (opc<0> = 1 UNDEFINED; pre/post/unprivileged UNDEFINED);
//               otherwise a sign-extending load of 8 << size bits into X (opc<0> = 0)
//               or W (opc<0> = 1), where size = 10 with opc<0> = 1 is UNDEFINED.
import { refining, type AnyEncoding, type Exec } from '../decode.js';
import { X, setX } from '../regs.js';
import { sextNum } from '../bits.js';
import { extendReg, UXTX } from '../alu.js';
import { undefinedInstruction } from '../../pe/exception.js';
import { unallocated, target, rz, rsp } from './dp-common.js';
import {
  baseReg,
  dataAbortSyndrome,
  encPrepared,
  immAddressText,
  prfopText,
  accessOffset,
  writeback,
  genBase,
} from './ls-common.js';
import { genExtendReg } from '../alu.js';
import type { Cpu } from '../cpu.js';
import { type Emitter, U, big } from '../emit.js';
import { ACC_UNPRIV } from '../access.js';

/** How a loaded value becomes the register value: zero-extended, or SignExtend to 64 or to 32 bits. */
const enum Ext {
  Zero = 0,
  S8to64,
  S16to64,
  S32to64,
  S8to32,
  S16to32,
}

function extendLoaded(v: bigint, ext: Ext): bigint {
  switch (ext) {
    case Ext.Zero:
      return v;
    case Ext.S8to64:
      return BigInt.asUintN(64, BigInt.asIntN(8, v));
    case Ext.S16to64:
      return BigInt.asUintN(64, BigInt.asIntN(16, v));
    case Ext.S32to64:
      return BigInt.asUintN(64, BigInt.asIntN(32, v));
    case Ext.S8to32:
      return BigInt.asUintN(32, BigInt.asIntN(8, v));
    default:
      return BigInt.asUintN(32, BigInt.asIntN(16, v));
  }
}

/** The addressing forms, which decide the offset, writeback and syndrome. */
const enum Form {
  UnsignedOffset,
  Unscaled,
  PostIndex,
  Unprivileged,
  PreIndex,
  Register,
  Literal,
}

/** One single-register load or store with its operands decoded once. */
interface Single {
  readonly raw: number;
  readonly t: number;
  readonly n: number;
  readonly m: number;
  /** Access size in bytes. */
  readonly bytes: number;
  readonly ext: Ext;
  /** The 64-bit register (X) rather than W. */
  readonly sf: boolean;
  /** Byte offset: the scaled or unscaled immediate, or the literal's PC offset. */
  readonly imm: number;
  /** Register offset: the extend type (option) and the left shift. */
  readonly option: number;
  readonly shift: number;
  readonly form: Form;
  readonly post: boolean;
  readonly wback: boolean;
  /**
   * Writeback to the transfer register (Rn == Rt, not SP). CONSTRAINED UNPREDICTABLE in
   * the ARM ARM (WBOVERLAPLD/WBOVERLAPST); of the permitted behaviours hypstep always
   * takes UNDEFINED, so a guest relying on one hardware's choice is told at once.
   */
  readonly overlap: boolean;
  /** Access flags for Cpu.read/write: the data-abort syndrome (0 where ISV is 0), ACC_UNPRIV for LDTR/STTR. */
  readonly flags: number;
  readonly mnemonic: string;
}

const SIZE_SUFFIX = ['b', 'h', '', ''];
const FORM_INFIX = ['r', 'ur', 'r', 'tr', 'r', 'r', 'r'];

/** The shared decode (see the head of this file) plus the form's addressing. */
function decodeSingle(
  raw: number,
  size: number,
  opc: number,
  t: number,
  n: number,
  m: number,
  form: Form,
  imm: number,
  option: number,
  s: number,
): Single {
  const load = opc !== 0;
  const signed = (opc & 2) !== 0;
  const sf = signed ? (opc & 1) === 0 : size === 3;
  const ext = !signed
    ? Ext.Zero
    : sf
      ? size === 0
        ? Ext.S8to64
        : size === 1
          ? Ext.S16to64
          : Ext.S32to64
      : size === 0
        ? Ext.S8to32
        : Ext.S16to32;
  const post = form === Form.PostIndex;
  const wback = post || form === Form.PreIndex;
  const suffix = signed ? `s${size === 2 ? 'w' : SIZE_SUFFIX[size]}` : SIZE_SUFFIX[size];
  return {
    raw,
    t,
    n,
    m,
    bytes: 1 << size,
    ext,
    sf,
    imm,
    option,
    shift: s !== 0 ? size : 0,
    form,
    post,
    wback,
    overlap: wback && n === t && n !== 31,
    flags: (wback ? 0 : dataAbortSyndrome(size, signed, t, sf, false)) | (form === Form.Unprivileged ? ACC_UNPRIV : 0),
    mnemonic: `${load ? 'ld' : 'st'}${FORM_INFIX[form]}${suffix}`,
  };
}

function loadImmediate(cpu: Cpu, d: Single): void {
  if (d.overlap) throw undefinedInstruction(cpu);
  const base = baseReg(cpu, d.n);
  setX(cpu, d.t, extendLoaded(cpu.readAt(base, accessOffset(d), d.bytes, d.flags), d.ext));
  if (d.wback) writeback(cpu, d, base);
}

function storeImmediate(cpu: Cpu, d: Single): void {
  if (d.overlap) throw undefinedInstruction(cpu);
  const base = baseReg(cpu, d.n);
  cpu.writeAt(base, accessOffset(d), d.bytes, X(cpu, d.t), d.flags);
  if (d.wback) writeback(cpu, d, base);
}

// The hot shapes, picked at decode: a zero-extending load or a store at an immediate offset from a
// base other than SP, without writeback (the generic executors' overlap, SP, extension and
// writeback branches cost a fifth of a load).
const loadOffset = (cpu: Cpu, d: Single): void => setX(cpu, d.t, cpu.readAt(X(cpu, d.n), d.imm, d.bytes, d.flags));
const storeOffset = (cpu: Cpu, d: Single): void => cpu.writeAt(X(cpu, d.n), d.imm, d.bytes, X(cpu, d.t), d.flags);
const pickLoad = (d: Single): Exec<Single> | undefined =>
  !d.wback && d.n !== 31 && d.ext === Ext.Zero ? loadOffset : undefined;
const pickStore = (d: Single): Exec<Single> | undefined => (!d.wback && d.n !== 31 ? storeOffset : undefined);

/** base + ExtendReg(m, option, shift). */
function registerAddress(cpu: Cpu, d: Single): bigint {
  const base = baseReg(cpu, d.n);
  return BigInt.asUintN(64, base + extendReg(X(cpu, d.m), d.option, d.shift));
}

function loadRegister(cpu: Cpu, d: Single): void {
  setX(cpu, d.t, extendLoaded(cpu.read(registerAddress(cpu, d), d.bytes, d.flags), d.ext));
}

function storeRegister(cpu: Cpu, d: Single): void {
  cpu.write(registerAddress(cpu, d), d.bytes, X(cpu, d.t), d.flags);
}

function loadLiteral(cpu: Cpu, d: Single): void {
  setX(cpu, d.t, extendLoaded(cpu.readAt(cpu.pcs[1]!, d.imm, d.bytes, d.flags), d.ext));
}

/** PRFM/PRFUM: a hint with no architecturally visible effect (and no SP alignment check). */
function prefetch(): void {}

/** extendLoaded as an expression over a loaded value `v` (a name). */
function genExtendLoaded(v: string, ext: Ext): string {
  const sign = (bits: number, to: number): string =>
    U(`((${v} ^ ${big(1n << BigInt(bits - 1))}) - ${big(1n << BigInt(bits - 1))})${to === 32 ? ' & 0xffffffffn' : ''}`);
  switch (ext) {
    case Ext.Zero:
      return v;
    case Ext.S8to64:
      return sign(8, 64);
    case Ext.S16to64:
      return sign(16, 64);
    case Ext.S32to64:
      return sign(32, 64);
    case Ext.S8to32:
      return sign(8, 32);
    default:
      return sign(16, 32);
  }
}

/** Every single-register load and store but the prefetches, as the executors above do it. */
function genSingle(g: Emitter, d: Single, load: boolean): void {
  if (d.overlap) {
    g.undefinedInstruction();
    return;
  }
  let address: string;
  let also: string | undefined;
  if (d.form === Form.Literal) address = g.pc(d.imm);
  else {
    const b = genBase(g, d.n);
    also = b.also;
    if (d.form === Form.Register) address = g.val(U(`${b.base} + ${genExtendReg(g.x(d.m), d.option, d.shift)}`));
    else address = d.post || d.imm === 0 ? b.base : g.val(U(`${b.base} + ${big(d.imm)}`));
  }
  const unprivileged = d.form === Form.Unprivileged;
  g.access({ va: address, size: d.bytes, count: 1, write: !load, unprivileged, also }, (off) => {
    if (load) g.setX(d.t, genExtendLoaded(g.val(g.load(off, d.bytes)), d.ext));
    else g.store(off, d.bytes, g.x(d.t));
    if (d.wback) g.setXsp(d.n, d.post ? U(`${address} + ${big(d.imm)}`) : address);
  });
}
const genLoad = (g: Emitter, d: Single): void => genSingle(g, d, true);
const genStore = (g: Emitter, d: Single): void => genSingle(g, d, false);
const genPrefetch = (): void => {};

// --- disassembly ---------------------------------------------------------------------

const EXTEND_NAME = ['', '', 'uxtw', 'lsl', '', '', 'sxtw', 'sxtx'];

export function registerOffsetText(d: { n: number; m: number; option: number; raw: number; shift: number }): string {
  const s = (d.raw >>> 12) & 1;
  const rm = rz(d.m, (d.option & 1) !== 0);
  const amount = s !== 0 ? ` #${d.shift}` : '';
  if (d.option === UXTX) return s !== 0 ? `[${rsp(d.n)}, ${rm}, lsl${amount}]` : `[${rsp(d.n)}, ${rm}]`;
  return `[${rsp(d.n)}, ${rm}, ${EXTEND_NAME[d.option]}${amount}]`;
}

function singleText(d: Single, pc: bigint): string {
  const rt = rz(d.t, d.sf);
  switch (d.form) {
    case Form.Register:
      return `${d.mnemonic}\t${rt}, ${registerOffsetText(d)}`;
    case Form.Literal:
      return `${d.mnemonic}\t${rt}, ${target(pc, d.imm)}`;
    default:
      return `${d.mnemonic}\t${rt}, ${immAddressText(d.n, d.imm, d.post, d.wback)}`;
  }
}

/** PRFM and PRFUM keep only what their text needs; the semantics ignore it. */
interface Prefetch {
  readonly raw: number;
  readonly op: number;
  readonly address: (pc: bigint) => string;
}

function prefetchText(mnemonic: string): (d: Prefetch, pc: bigint) => string {
  return (d, pc) => `${mnemonic}\t${prfopText(d.op)}, ${d.address(pc)}`;
}

// imm9 forms: bits [11:10] choose unscaled, post-index, unprivileged, pre-index.
const IMM9_FORM = [Form.Unscaled, Form.PostIndex, Form.Unprivileged, Form.PreIndex];

/** Every single-register encoding, UNDEFINED carve-outs first. */
export const SINGLE_REGISTER: readonly AnyEncoding[] = [
  // size = 1x, opc = 11: no sign-extending load into W of 32 or 64 bits, no such PRFM.
  // (Only the register forms: the same bits with bit 21 set and [11:10] = 00 are the LSE atomics.)
  unallocated('1x 111 0 01 11 xxxxxxxxxxxx xxxxx xxxxx', 'load/store size=1x opc=11'),
  unallocated('1x 111 0 00 11 0 xxxxxxxxx xx xxxxx xxxxx', 'load/store size=1x opc=11'),
  unallocated('1x 111 0 00 11 1 xxxxx xxxx 10 xxxxx xxxxx', 'load/store size=1x opc=11'),
  // size = 11, opc = 10 is PRFM only in the offset forms: no pre/post-index or unprivileged prefetch.
  unallocated('11 111 0 00 10 0 xxxxxxxxx x1 xxxxx xxxxx', 'prefetch with writeback'),
  unallocated('11 111 0 00 10 0 xxxxxxxxx 10 xxxxx xxxxx', 'unprivileged prefetch'),
  // Register offset: option<1> = 0 (UXTB/UXTH/SXTB/SXTH) is UNDEFINED, PRFM included.
  unallocated('xx 111 0 00 xx 1 xxxxx x0x x 10 xxxxx xxxxx', 'register offset with option<1>=0'),

  refining(
    encPrepared(
      '11 111 0 01 10 imm12:12 Rn:5 Rt:5',
      'PRFM (immediate)',
      (f): Prefetch => ({ raw: f.raw, op: f.Rt, address: () => immAddressText(f.Rn, f.imm12 * 8, false, false) }),
      prefetch,
      prefetchText('prfm'),
      genPrefetch,
    ),
    'LDR (unsigned offset)',
  ),
  refining(
    encPrepared(
      '11 111 0 00 10 0 imm9:9 00 Rn:5 Rt:5',
      'PRFUM',
      (f): Prefetch => ({
        raw: f.raw,
        op: f.Rt,
        address: () => immAddressText(f.Rn, sextNum(f.imm9, 9), false, false),
      }),
      prefetch,
      prefetchText('prfum'),
      genPrefetch,
    ),
    'LDR (immediate, 9-bit)',
  ),
  refining(
    encPrepared(
      '11 111 0 00 10 1 Rm:5 option:3 S:1 10 Rn:5 Rt:5',
      'PRFM (register)',
      (f): Prefetch => ({
        raw: f.raw,
        op: f.Rt,
        address: () => registerOffsetText({ n: f.Rn, m: f.Rm, option: f.option, raw: f.raw, shift: f.S * 3 }),
      }),
      prefetch,
      prefetchText('prfm'),
      genPrefetch,
    ),
    'LDR (register)',
  ),
  refining(
    encPrepared(
      '11 011 0 00 imm19:19 Rt:5',
      'PRFM (literal)',
      (f): Prefetch => ({ raw: f.raw, op: f.Rt, address: (pc) => target(pc, sextNum(f.imm19, 19) * 4) }),
      prefetch,
      prefetchText('prfm'),
      genPrefetch,
    ),
    'LDR (literal)',
  ),

  refining(
    encPrepared(
      'size:2 111 0 01 00 imm12:12 Rn:5 Rt:5',
      'STR (unsigned offset)',
      (f) => decodeSingle(f.raw, f.size, 0, f.Rt, f.Rn, 0, Form.UnsignedOffset, f.imm12 << f.size, 0, 0),
      storeImmediate,
      singleText,
      genStore,
      pickStore,
    ),
    'LDR (unsigned offset)',
  ),
  encPrepared(
    'size:2 111 0 01 opc:2 imm12:12 Rn:5 Rt:5',
    'LDR (unsigned offset)',
    (f) => decodeSingle(f.raw, f.size, f.opc, f.Rt, f.Rn, 0, Form.UnsignedOffset, f.imm12 << f.size, 0, 0),
    loadImmediate,
    singleText,
    genLoad,
    pickLoad,
  ),
  refining(
    encPrepared(
      'size:2 111 0 00 00 0 imm9:9 idx:2 Rn:5 Rt:5',
      'STR (immediate, 9-bit)',
      (f) => decodeSingle(f.raw, f.size, 0, f.Rt, f.Rn, 0, IMM9_FORM[f.idx]!, sextNum(f.imm9, 9), 0, 0),
      storeImmediate,
      singleText,
      genStore,
      pickStore,
    ),
    'LDR (immediate, 9-bit)',
  ),
  encPrepared(
    'size:2 111 0 00 opc:2 0 imm9:9 idx:2 Rn:5 Rt:5',
    'LDR (immediate, 9-bit)',
    (f) => decodeSingle(f.raw, f.size, f.opc, f.Rt, f.Rn, 0, IMM9_FORM[f.idx]!, sextNum(f.imm9, 9), 0, 0),
    loadImmediate,
    singleText,
    genLoad,
    pickLoad,
  ),
  refining(
    encPrepared(
      'size:2 111 0 00 00 1 Rm:5 option:3 S:1 10 Rn:5 Rt:5',
      'STR (register)',
      (f) => decodeSingle(f.raw, f.size, 0, f.Rt, f.Rn, f.Rm, Form.Register, 0, f.option, f.S),
      storeRegister,
      singleText,
      genStore,
    ),
    'LDR (register)',
  ),
  encPrepared(
    'size:2 111 0 00 opc:2 1 Rm:5 option:3 S:1 10 Rn:5 Rt:5',
    'LDR (register)',
    (f) => decodeSingle(f.raw, f.size, f.opc, f.Rt, f.Rn, f.Rm, Form.Register, 0, f.option, f.S),
    loadRegister,
    singleText,
    genLoad,
  ),
  // LDR (literal): opc 00 is W, 01 X, 10 LDRSW (11, PRFM, is above).
  encPrepared(
    'opc:2 011 0 00 imm19:19 Rt:5',
    'LDR (literal)',
    (f) =>
      decodeSingle(
        f.raw,
        f.opc === 0 ? 2 : f.opc === 1 ? 3 : 2,
        f.opc === 2 ? 2 : 1,
        f.Rt,
        0,
        0,
        Form.Literal,
        sextNum(f.imm19, 19) * 4,
        0,
        0,
      ),
    loadLiteral,
    singleText,
    genLoad,
  ),
];
