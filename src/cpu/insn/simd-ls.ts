// Loads and stores of SIMD&FP registers: LDR/STR of B, H, S, D and Q registers in the
// unsigned-offset, unscaled (LDUR/STUR), pre- and post-index, register-offset and literal
// forms; LDP/STP/LDNP/STNP of S, D and Q registers; LD1–LD4/ST1–ST4 of multiple structures
// and of single structures, and LD1R–LD4R, each with and without post-index. Data aborts on
// SIMD&FP registers report ISV = 0, so no access passes a syndrome.
import type { AnyEncoding } from '../decode.js';
import { X, setXSP } from '../regs.js';
import { sextNum } from '../bits.js';
import { extendReg } from '../alu.js';
import { undefinedInstruction } from '../../pe/exception.js';
import { checkFPEnabled } from '../../pe/fp.js';
import { unallocated, target, rsp, rz, undefinedText } from './dp-common.js';
import { baseReg, encPrepared, immAddressText, immediateAddress, writeback } from './ls-common.js';
import { registerOffsetText } from './ls-single.js';
import { arrangement, elem, fr, getV, readMem, setElem, setV, vlist, writeMem } from './simd-common.js';
import type { Cpu } from '../cpu.js';

const enum Form {
  UnsignedOffset,
  Unscaled,
  PostIndex,
  PreIndex,
  Register,
  Literal,
}

/** One register load or store with its operands decoded once. */
interface Single {
  readonly raw: number;
  readonly t: number;
  readonly n: number;
  readonly m: number;
  /** log2 of the access size in bytes (0–4), and the size. */
  readonly scale: number;
  readonly bytes: number;
  readonly imm: number;
  readonly option: number;
  readonly shift: number;
  readonly form: Form;
  readonly post: boolean;
  readonly wback: boolean;
  readonly mnemonic: string;
}

const IMM9_FORM = [Form.Unscaled, Form.PostIndex, Form.Unscaled, Form.PreIndex]; // idx 10 is carved out

function decodeSingle(
  raw: number,
  size: number,
  opc: number,
  t: number,
  n: number,
  form: Form,
  imm: number,
  m = 0,
  option = 0,
  s = 0,
): Single {
  const scale = ((opc & 2) << 1) | size; // opc<1>:size, 4 for Q (size is then 00)
  const load = (opc & 1) !== 0;
  const post = form === Form.PostIndex;
  return {
    raw,
    t,
    n,
    m,
    scale,
    bytes: 1 << scale,
    imm: form === Form.UnsignedOffset ? imm << scale : imm,
    option,
    shift: s !== 0 ? scale : 0,
    form,
    post,
    wback: post || form === Form.PreIndex,
    mnemonic: `${load ? 'ld' : 'st'}${form === Form.Unscaled ? 'ur' : 'r'}`,
  };
}

function loadImmediate(cpu: Cpu, d: Single): void {
  checkFPEnabled(cpu);
  const base = baseReg(cpu, d.n);
  const address = immediateAddress(base, d);
  setV(cpu.v, d.t, d.bytes, readMem(cpu, address, d.bytes));
  if (d.wback) writeback(cpu, d, base);
}

function storeImmediate(cpu: Cpu, d: Single): void {
  checkFPEnabled(cpu);
  const base = baseReg(cpu, d.n);
  const address = immediateAddress(base, d);
  writeMem(cpu, address, d.bytes, getV(cpu.v, d.t, d.bytes));
  if (d.wback) writeback(cpu, d, base);
}

function registerAddress(cpu: Cpu, d: Single): bigint {
  return BigInt.asUintN(64, baseReg(cpu, d.n) + extendReg(X(cpu, d.m), d.option, d.shift));
}

function loadRegister(cpu: Cpu, d: Single): void {
  checkFPEnabled(cpu);
  setV(cpu.v, d.t, d.bytes, readMem(cpu, registerAddress(cpu, d), d.bytes));
}

function storeRegister(cpu: Cpu, d: Single): void {
  checkFPEnabled(cpu);
  writeMem(cpu, registerAddress(cpu, d), d.bytes, getV(cpu.v, d.t, d.bytes));
}

function loadLiteral(cpu: Cpu, d: Single): void {
  checkFPEnabled(cpu);
  setV(cpu.v, d.t, d.bytes, readMem(cpu, BigInt.asUintN(64, cpu.pcs[1]! + BigInt(d.imm)), d.bytes));
}

function singleText(d: Single, pc: bigint): string {
  const rt = fr(d.scale, d.t);
  switch (d.form) {
    case Form.Register:
      return `${d.mnemonic}\t${rt}, ${registerOffsetText(d)}`;
    case Form.Literal:
      return `${d.mnemonic}\t${rt}, ${target(pc, d.imm)}`;
    default:
      return `${d.mnemonic}\t${rt}, ${immAddressText(d.n, d.imm, d.post, d.wback)}`;
  }
}

// --- pairs -----------------------------------------------------------------------------

interface Pair {
  readonly raw: number;
  readonly t: number;
  readonly t2: number;
  readonly n: number;
  readonly scale: number;
  readonly bytes: number;
  readonly imm: number;
  readonly post: boolean;
  readonly wback: boolean;
  /** LDP with Rt == Rt2: CONSTRAINED UNPREDICTABLE, UNDEFINED here as for the integer pairs. */
  readonly undef: boolean;
  readonly mnemonic: string;
}

function decodePair(
  raw: number,
  opc: number,
  idx: number,
  load: boolean,
  imm7: number,
  t2: number,
  n: number,
  t: number,
): Pair {
  const scale = 2 + opc;
  const post = idx === 1;
  return {
    raw,
    t,
    t2,
    n,
    scale,
    bytes: 1 << scale,
    imm: sextNum(imm7, 7) << scale,
    post,
    wback: post || idx === 3,
    undef: load && t === t2,
    mnemonic: `${load ? 'ld' : 'st'}${idx === 0 ? 'np' : 'p'}`,
  };
}

function loadPair(cpu: Cpu, d: Pair): void {
  checkFPEnabled(cpu);
  if (d.undef) throw undefinedInstruction(cpu);
  const base = baseReg(cpu, d.n);
  const address = immediateAddress(base, d);
  const v1 = readMem(cpu, address, d.bytes);
  const v2 = readMem(cpu, BigInt.asUintN(64, address + BigInt(d.bytes)), d.bytes);
  setV(cpu.v, d.t, d.bytes, v1);
  setV(cpu.v, d.t2, d.bytes, v2);
  if (d.wback) writeback(cpu, d, base);
}

function storePair(cpu: Cpu, d: Pair): void {
  checkFPEnabled(cpu);
  const base = baseReg(cpu, d.n);
  const address = immediateAddress(base, d);
  writeMem(cpu, address, d.bytes, getV(cpu.v, d.t, d.bytes));
  writeMem(cpu, BigInt.asUintN(64, address + BigInt(d.bytes)), d.bytes, getV(cpu.v, d.t2, d.bytes));
  if (d.wback) writeback(cpu, d, base);
}

function pairText(d: Pair): string {
  return `${d.mnemonic}\t${fr(d.scale, d.t)}, ${fr(d.scale, d.t2)}, ${immAddressText(d.n, d.imm, d.post, d.wback)}`;
}

// --- structures ----------------------------------------------------------------------

/** LD1–LD4/ST1–ST4 (multiple structures), one lane (single structure) or every lane (LDnR). */
interface Structures {
  readonly raw: number;
  readonly t: number;
  readonly n: number;
  /** Post-index register, 31 for the immediate form; -1 without writeback. */
  readonly m: number;
  readonly load: boolean;
  /** Registers per structure, and (multiple structures) how many times the pattern repeats. */
  readonly selem: number;
  readonly rpt: number;
  /** Element size as 0–3, the elements per register, and the register's bytes (8 or 16). */
  readonly size: number;
  readonly elements: number;
  readonly regBytes: number;
  /** Single structure: the lane (-1 for multiple structures and for LDnR). */
  readonly index: number;
  readonly replicate: boolean;
  readonly undef: boolean;
  readonly mnemonic: string;
}

/** opcode -> [rpt, selem] of the multiple-structure forms; the others are unallocated. */
const MULTIPLE: Readonly<Record<number, readonly [number, number]>> = {
  0b0000: [1, 4],
  0b0010: [4, 1],
  0b0100: [1, 3],
  0b0110: [3, 1],
  0b0111: [1, 1],
  0b1000: [1, 2],
  0b1010: [2, 1],
};

function decodeMultiple(
  raw: number,
  q: number,
  load: number,
  m: number,
  opcode: number,
  size: number,
  n: number,
  t: number,
): Structures {
  const [rpt, selem] = MULTIPLE[opcode] ?? [0, 0];
  return {
    raw,
    t,
    n,
    m,
    load: load !== 0,
    selem,
    rpt,
    size,
    elements: (q ? 16 : 8) >> size,
    regBytes: q ? 16 : 8,
    index: -1,
    replicate: false,
    undef: selem === 0 || (size === 3 && q === 0 && selem !== 1),
    mnemonic: `${load ? 'ld' : 'st'}${selem}`,
  };
}

function decodeSingleStructure(
  raw: number,
  q: number,
  load: number,
  r: number,
  m: number,
  opcode: number,
  s: number,
  size: number,
  n: number,
  t: number,
  index: number,
): Structures {
  let scale = opcode >>> 1;
  const selem = (((opcode & 1) << 1) | r) + 1;
  let undef = false;
  let lane = index;
  const replicate = scale === 3;
  switch (scale) {
    case 3:
      undef = load === 0 || s !== 0;
      scale = size;
      lane = -1;
      break;
    case 0:
      break;
    case 1:
      undef = (size & 1) !== 0;
      lane = index >>> 1;
      break;
    default:
      if ((size & 2) !== 0) undef = true;
      else if ((size & 1) === 0) lane = index >>> 2;
      else {
        undef = s !== 0;
        lane = q;
        scale = 3;
      }
  }
  return {
    raw,
    t,
    n,
    m,
    load: load !== 0,
    selem,
    rpt: 1,
    size: scale,
    elements: replicate ? (q ? 16 : 8) >> scale : 1,
    regBytes: q ? 16 : 8,
    index: lane,
    replicate,
    undef,
    mnemonic: `${load ? 'ld' : 'st'}${selem}${replicate ? 'r' : ''}`,
  };
}

/** Bytes the instruction transfers: the post-index immediate. */
function transferBytes(d: Structures): number {
  return d.index >= 0 || d.replicate ? d.selem << d.size : d.rpt * d.selem * d.regBytes;
}

function structures(cpu: Cpu, d: Structures): void {
  checkFPEnabled(cpu);
  if (d.undef) throw undefinedInstruction(cpu);
  const address = baseReg(cpu, d.n);
  const v = cpu.v;
  const ebytes = 1 << d.size;
  let offs = 0;
  if (d.replicate || d.index >= 0) {
    // Every access completes before any register changes, so a fault leaves them as they were.
    const values: bigint[] = [];
    for (let s = 0; s < d.selem; s++, offs += ebytes) {
      const va = BigInt.asUintN(64, address + BigInt(offs));
      const tt = (d.t + s) % 32;
      if (d.load) values.push(cpu.read(va, ebytes, 0));
      else cpu.write(va, ebytes, elem(v, tt, d.index, d.size), 0);
    }
    if (d.load)
      values.forEach((value, s) => {
        const tt = (d.t + s) % 32;
        if (!d.replicate) setElem(v, tt, d.index, d.size, value);
        else {
          setV(v, tt, 16, 0n);
          for (let e = 0; e < d.elements; e++) setElem(v, tt, e, d.size, value);
        }
      });
  } else {
    const loaded: { tt: number; e: number; value: bigint }[] = [];
    for (let r = 0; r < d.rpt; r++)
      for (let e = 0; e < d.elements; e++)
        for (let s = 0; s < d.selem; s++, offs += ebytes) {
          const tt = (d.t + r + s) % 32;
          const va = BigInt.asUintN(64, address + BigInt(offs));
          if (d.load) loaded.push({ tt, e, value: cpu.read(va, ebytes, 0) });
          else cpu.write(va, ebytes, elem(v, tt, e, d.size), 0);
        }
    if (d.load) {
      for (let r = 0; r < d.rpt * d.selem; r++) if (d.regBytes === 8) v.d[2 * ((d.t + r) % 32) + 1] = 0n;
      for (const l of loaded) setElem(v, l.tt, l.e, d.size, l.value);
    }
  }
  if (d.m >= 0) {
    const step = d.m === 31 ? BigInt(transferBytes(d)) : X(cpu, d.m);
    setXSP(cpu, d.n, BigInt.asUintN(64, address + step));
  }
}

function structuresText(d: Structures): string {
  if (d.undef) return undefinedText(d.raw);
  const count = d.index >= 0 || d.replicate ? d.selem : d.rpt * d.selem;
  const list =
    d.index >= 0
      ? `${vlist(d.t, count, 'bhsd'[d.size]!)}[${d.index}]`
      : vlist(d.t, count, arrangement(d.size, d.regBytes === 16 ? 1 : 0));
  const post = d.m < 0 ? '' : d.m === 31 ? `, #${transferBytes(d)}` : `, ${rz(d.m, 1)}`;
  return `${d.mnemonic}\t${list}, [${rsp(d.n)}]${post}`;
}

export const SIMD_LOADS_STORES: readonly AnyEncoding[] = [
  // B/H/S/D only for opc<1> = 0; opc<1> = 1 is Q with size 00.
  unallocated('x1 111 1 0x 1x xxxxxxxxxxxx xxxxx xxxxx', 'SIMD&FP load/store size!=00 with opc<1>=1'),
  unallocated('1x 111 1 0x 1x xxxxxxxxxxxx xxxxx xxxxx', 'SIMD&FP load/store size!=00 with opc<1>=1'),
  unallocated('xx 111 1 00 xx 0 xxxxxxxxx 10 xxxxx xxxxx', 'unprivileged SIMD&FP load/store'),
  unallocated('xx 111 1 00 xx 1 xxxxx x0x x 10 xxxxx xxxxx', 'SIMD&FP register offset with option<1>=0'),
  unallocated('11 011 1 00 xxxxxxxxxxxxxxxxxxx xxxxx', 'SIMD&FP LDR (literal) opc=11'),
  unallocated('11 101 1 0xx x xxxxxxx xxxxx xxxxx xxxxx', 'SIMD&FP load/store pair opc=11'),
  encPrepared(
    'size:2 111 1 01 opc:2 imm12:12 Rn:5 Rt:5',
    'LDR/STR (SIMD&FP, unsigned offset)',
    (f) => decodeSingle(f.raw, f.size, f.opc, f.Rt, f.Rn, Form.UnsignedOffset, f.imm12),
    (cpu, d) => ((d.raw & (1 << 22)) !== 0 ? loadImmediate(cpu, d) : storeImmediate(cpu, d)),
    singleText,
  ),
  encPrepared(
    'size:2 111 1 00 opc:2 0 imm9:s9 idx:2 Rn:5 Rt:5',
    'LDR/STR/LDUR/STUR (SIMD&FP, 9-bit immediate)',
    (f) => decodeSingle(f.raw, f.size, f.opc, f.Rt, f.Rn, IMM9_FORM[f.idx]!, f.imm9),
    (cpu, d) => ((d.raw & (1 << 22)) !== 0 ? loadImmediate(cpu, d) : storeImmediate(cpu, d)),
    singleText,
  ),
  encPrepared(
    'size:2 111 1 00 opc:2 1 Rm:5 option:3 S:1 10 Rn:5 Rt:5',
    'LDR/STR (SIMD&FP, register)',
    (f) => decodeSingle(f.raw, f.size, f.opc, f.Rt, f.Rn, Form.Register, 0, f.Rm, f.option, f.S),
    (cpu, d) => ((d.raw & (1 << 22)) !== 0 ? loadRegister(cpu, d) : storeRegister(cpu, d)),
    singleText,
  ),
  encPrepared(
    'opc:2 011 1 00 imm19:s19 Rt:5',
    'LDR (SIMD&FP, literal)',
    (f) => ({ ...decodeSingle(f.raw, 0, 1, f.Rt, 0, Form.Literal, f.imm19 * 4), scale: 2 + f.opc, bytes: 4 << f.opc }),
    loadLiteral,
    singleText,
  ),
  encPrepared(
    'opc:2 101 1 0 idx:2 L:1 imm7:7 Rt2:5 Rn:5 Rt:5',
    'LDP/STP/LDNP/STNP (SIMD&FP)',
    (f) => decodePair(f.raw, f.opc, f.idx, f.L !== 0, f.imm7, f.Rt2, f.Rn, f.Rt),
    (cpu, d) => ((d.raw & (1 << 22)) !== 0 ? loadPair(cpu, d) : storePair(cpu, d)),
    pairText,
  ),
  encPrepared(
    '0 Q:1 0011000 L:1 000000 opcode:4 size:2 Rn:5 Rt:5',
    'LD1-4/ST1-4 (multiple structures)',
    (f) => decodeMultiple(f.raw, f.Q, f.L, -1, f.opcode, f.size, f.Rn, f.Rt),
    structures,
    structuresText,
  ),
  encPrepared(
    '0 Q:1 0011001 L:1 0 Rm:5 opcode:4 size:2 Rn:5 Rt:5',
    'LD1-4/ST1-4 (multiple structures, post-index)',
    (f) => decodeMultiple(f.raw, f.Q, f.L, f.Rm, f.opcode, f.size, f.Rn, f.Rt),
    structures,
    structuresText,
  ),
  encPrepared(
    '0 Q:1 0011010 L:1 R:1 00000 opcode:3 S:1 size:2 Rn:5 Rt:5 index=Q:S:size',
    'LD1-4/ST1-4/LD1R-LD4R (single structure)',
    (f) => decodeSingleStructure(f.raw, f.Q, f.L, f.R, -1, f.opcode, f.S, f.size, f.Rn, f.Rt, f.index),
    structures,
    structuresText,
  ),
  encPrepared(
    '0 Q:1 0011011 L:1 R:1 Rm:5 opcode:3 S:1 size:2 Rn:5 Rt:5 index=Q:S:size',
    'LD1-4/ST1-4/LD1R-LD4R (single structure, post-index)',
    (f) => decodeSingleStructure(f.raw, f.Q, f.L, f.R, f.Rm, f.opcode, f.S, f.size, f.Rn, f.Rt, f.index),
    structures,
    structuresText,
  ),
];
