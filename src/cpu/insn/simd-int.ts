// Advanced SIMD integer instructions, vector and scalar: three registers of the same type,
// two-register miscellaneous, across lanes, three different types (long, wide, narrow),
// shifts by immediate, permutes (ZIP, UZP, TRN), EXT, TBL/TBX. Each row decodes its operands and
// objdump's text once; the lane arithmetic is done on unbounded BigInts and then truncated or
// saturated (SatQ, which sets FPSR.QC) to the element size, as the ARM ARM's pseudocode does.
import type { AnyEncoding } from '../decode.js';
import { undefinedInstruction } from '../../pe/exception.js';
import { checkFPEnabled } from '../../pe/fp.js';
import { SR } from '../../sysregs/registry.js';
import { undefinedText } from './dp-common.js';
import { encPrepared } from './ls-common.js';
import { arrangement, elem, setElem, setV } from './simd-common.js';
import { decodeFixed, execF } from './fp-vector.js';
import type { Cpu } from '../cpu.js';

/** FPSR.QC: cumulative saturation. */
const QC = 1n << 27n;

/** SatQ(i, N, unsigned): i clamped to N bits, setting FPSR.QC when it did not fit. */
function satQ(cpu: Cpu, i: bigint, bits: number, unsigned: boolean): bigint {
  const max = unsigned ? (1n << BigInt(bits)) - 1n : (1n << BigInt(bits - 1)) - 1n;
  const min = unsigned ? 0n : -(1n << BigInt(bits - 1));
  if (i > max || i < min) {
    cpu.sr[SR.FPSR!] = cpu.sr[SR.FPSR!]! | QC;
    return BigInt.asUintN(bits, i > max ? max : min);
  }
  return BigInt.asUintN(bits, i);
}

/** Int(x, unsigned) of an N-bit element. */
const int = (x: bigint, bits: number, unsigned: boolean): bigint => (unsigned ? x : BigInt.asIntN(bits, x));

/** One decoded instruction of these groups: its lane function and its operands. */
interface Vec {
  readonly raw: number;
  readonly run: ((cpu: Cpu, o: Vec) => void) | null;
  readonly text: string;
  readonly q: number;
  readonly size: number;
  readonly bits: number;
  readonly u: boolean;
  readonly n: number;
  readonly m: number;
  readonly d: number;
  /** Shift amount (shift by immediate), table length (TBL), byte position (EXT), or permute part. */
  readonly imm: number;
  readonly scalar: boolean;
  readonly opc: number;
}

function execVec(cpu: Cpu, o: Vec): void {
  checkFPEnabled(cpu);
  if (o.run === null) throw undefinedInstruction(cpu);
  o.run(cpu, o);
}

/** Elements of a vector (or 1 for a scalar) of `bits`-bit lanes in 64 or 128 bits. */
const count = (o: Vec, bits = o.bits): number => (o.scalar ? 1 : (o.q ? 128 : 64) / bits);

function read(cpu: Cpu, n: number, size: number, k: number, from = 0): bigint[] {
  const out: bigint[] = [];
  for (let e = 0; e < k; e++) out.push(elem(cpu.v, n, from + e, size));
  return out;
}

/** V[d] = the lanes (the rest of the register cleared). */
function write(cpu: Cpu, d: number, size: number, lanes: readonly bigint[]): void {
  setV(cpu.v, d, 16, 0n);
  lanes.forEach((x, e) => setElem(cpu.v, d, e, size, x));
}

// --- three registers of the same type ----------------------------------------------------

type Binary = (cpu: Cpu, a: bigint, b: bigint, o: Vec, acc: bigint) => bigint;

/** Shifts by a register (SSHL, URSHL, SQRSHL…): the shift is the signed low byte of b. */
function shiftByRegister(rounding: boolean, saturating: boolean): Binary {
  return (cpu, a, b, o) => {
    const shift = Number(BigInt.asIntN(8, b));
    const x = int(a, o.bits, o.u);
    let r: bigint;
    if (shift >= 0) r = x << BigInt(shift);
    else {
      const round = rounding ? 1n << BigInt(-shift - 1) : 0n;
      r = (x + round) >> BigInt(-shift);
    }
    return saturating ? satQ(cpu, r, o.bits, o.u) : BigInt.asUintN(o.bits, r);
  };
}

const abs = (x: bigint): bigint => (x < 0n ? -x : x);

/** Polynomial multiply of two bytes (PMUL), truncated to 8 bits by the caller. */
function polyMul(a: bigint, b: bigint, bits: number): bigint {
  let r = 0n;
  for (let i = 0; i < bits; i++) if ((b >> BigInt(i)) & 1n) r ^= a << BigInt(i);
  return r;
}

interface SameOp {
  readonly name: string;
  readonly fn: Binary;
  /** Allowed element sizes as a bit mask (bit s for size s). */
  readonly sizes: number;
  readonly pairwise?: boolean;
  /** Reads the destination as an accumulator. */
  readonly acc?: boolean;
  /** Allowed as a scalar (AdvSIMD scalar three same), with these sizes. */
  readonly scalarSizes?: number;
}

const ONES = (bits: number): bigint => (1n << BigInt(bits)) - 1n;
const cmp = (c: boolean, bits: number): bigint => (c ? ONES(bits) : 0n);

/** U:opcode -> the three-same integer operation (logic, opcode 00011, apart). */
const SAME: Readonly<Record<number, SameOp>> = (() => {
  const t: Record<number, SameOp> = {};
  const both = (opcode: number, s: string, u: string, fn: Binary, sizes: number, more: Partial<SameOp> = {}): void => {
    t[opcode] = { name: s, fn, sizes, ...more };
    t[32 | opcode] = { name: u, fn, sizes, ...more };
  };
  const sx = (o: Vec, x: bigint): bigint => int(x, o.bits, o.u);
  both(0b00000, 'shadd', 'uhadd', (_c, a, b, o) => BigInt.asUintN(o.bits, (sx(o, a) + sx(o, b)) >> 1n), 7);
  both(0b00001, 'sqadd', 'uqadd', (c, a, b, o) => satQ(c, sx(o, a) + sx(o, b), o.bits, o.u), 15, { scalarSizes: 15 });
  both(0b00010, 'srhadd', 'urhadd', (_c, a, b, o) => BigInt.asUintN(o.bits, (sx(o, a) + sx(o, b) + 1n) >> 1n), 7);
  both(0b00100, 'shsub', 'uhsub', (_c, a, b, o) => BigInt.asUintN(o.bits, (sx(o, a) - sx(o, b)) >> 1n), 7);
  both(0b00101, 'sqsub', 'uqsub', (c, a, b, o) => satQ(c, sx(o, a) - sx(o, b), o.bits, o.u), 15, { scalarSizes: 15 });
  both(0b00110, 'cmgt', 'cmhi', (_c, a, b, o) => cmp(sx(o, a) > sx(o, b), o.bits), 15, { scalarSizes: 8 });
  both(0b00111, 'cmge', 'cmhs', (_c, a, b, o) => cmp(sx(o, a) >= sx(o, b), o.bits), 15, { scalarSizes: 8 });
  both(0b01000, 'sshl', 'ushl', shiftByRegister(false, false), 15, { scalarSizes: 8 });
  both(0b01001, 'sqshl', 'uqshl', shiftByRegister(false, true), 15, { scalarSizes: 15 });
  both(0b01010, 'srshl', 'urshl', shiftByRegister(true, false), 15, { scalarSizes: 8 });
  both(0b01011, 'sqrshl', 'uqrshl', shiftByRegister(true, true), 15, { scalarSizes: 15 });
  both(0b01100, 'smax', 'umax', (_c, a, b, o) => (sx(o, a) >= sx(o, b) ? a : b), 7);
  both(0b01101, 'smin', 'umin', (_c, a, b, o) => (sx(o, a) <= sx(o, b) ? a : b), 7);
  both(0b01110, 'sabd', 'uabd', (_c, a, b, o) => BigInt.asUintN(o.bits, abs(sx(o, a) - sx(o, b))), 7);
  both(0b01111, 'saba', 'uaba', (_c, a, b, o, acc) => BigInt.asUintN(o.bits, acc + abs(sx(o, a) - sx(o, b))), 7, {
    acc: true,
  });
  t[0b10000] = { name: 'add', fn: (_c, a, b, o) => BigInt.asUintN(o.bits, a + b), sizes: 15, scalarSizes: 8 };
  t[32 | 0b10000] = { name: 'sub', fn: (_c, a, b, o) => BigInt.asUintN(o.bits, a - b), sizes: 15, scalarSizes: 8 };
  t[0b10001] = { name: 'cmtst', fn: (_c, a, b, o) => cmp((a & b) !== 0n, o.bits), sizes: 15, scalarSizes: 8 };
  t[32 | 0b10001] = { name: 'cmeq', fn: (_c, a, b, o) => cmp(a === b, o.bits), sizes: 15, scalarSizes: 8 };
  t[0b10010] = { name: 'mla', fn: (_c, a, b, o, acc) => BigInt.asUintN(o.bits, acc + a * b), sizes: 7, acc: true };
  t[32 | 0b10010] = { name: 'mls', fn: (_c, a, b, o, acc) => BigInt.asUintN(o.bits, acc - a * b), sizes: 7, acc: true };
  t[0b10011] = { name: 'mul', fn: (_c, a, b, o) => BigInt.asUintN(o.bits, a * b), sizes: 7 };
  t[32 | 0b10011] = { name: 'pmul', fn: (_c, a, b, o) => BigInt.asUintN(o.bits, polyMul(a, b, o.bits)), sizes: 1 };
  both(0b10100, 'smaxp', 'umaxp', (_c, a, b, o) => (sx(o, a) >= sx(o, b) ? a : b), 7, { pairwise: true });
  both(0b10101, 'sminp', 'uminp', (_c, a, b, o) => (sx(o, a) <= sx(o, b) ? a : b), 7, { pairwise: true });
  const doublingHigh =
    (round: boolean): Binary =>
    (c, a, b, o) => {
      const p = 2n * BigInt.asIntN(o.bits, a) * BigInt.asIntN(o.bits, b) + (round ? 1n << BigInt(o.bits - 1) : 0n);
      return satQ(c, p >> BigInt(o.bits), o.bits, false);
    };
  t[0b10110] = { name: 'sqdmulh', fn: doublingHigh(false), sizes: 6, scalarSizes: 6 };
  t[32 | 0b10110] = { name: 'sqrdmulh', fn: doublingHigh(true), sizes: 6, scalarSizes: 6 };
  t[0b10111] = { name: 'addp', fn: (_c, a, b, o) => BigInt.asUintN(o.bits, a + b), sizes: 15, pairwise: true };
  return t;
})();

const LOGIC = ['and', 'bic', 'orr', 'orn', 'eor', 'bsl', 'bit', 'bif'];

function logic(cpu: Cpu, o: Vec): void {
  const v = cpu.v;
  const words = o.q ? 2 : 1;
  const out: bigint[] = [];
  for (let w = 0; w < words; w++) {
    const a = v.d[2 * o.n + w]!;
    const b = v.d[2 * o.m + w]!;
    const d = v.d[2 * o.d + w]!;
    const nb = b ^ 0xffff_ffff_ffff_ffffn;
    switch (o.opc) {
      case 0:
        out.push(a & b);
        break;
      case 1:
        out.push(a & nb);
        break;
      case 2:
        out.push(a | b);
        break;
      case 3:
        out.push(a | nb);
        break;
      case 4:
        out.push(a ^ b);
        break;
      case 5:
        out.push((d & a) | ((d ^ 0xffff_ffff_ffff_ffffn) & b)); // BSL: d selects a, else b
        break;
      case 6:
        out.push((a & b) | (d & nb)); // BIT: insert a where b is set
        break;
      default:
        out.push((a & nb) | (d & b)); // BIF: insert a where b is clear
    }
  }
  v.d[2 * o.d] = out[0]!;
  v.d[2 * o.d + 1] = o.q ? out[1]! : 0n;
}

function sameRun(op: SameOp): (cpu: Cpu, o: Vec) => void {
  return (cpu, o) => {
    const k = count(o);
    const a = read(cpu, o.n, o.size, k);
    const b = read(cpu, o.m, o.size, k);
    const acc = op.acc ? read(cpu, o.d, o.size, k) : [];
    const out: bigint[] = [];
    if (op.pairwise) {
      const cat = [...a, ...b];
      for (let e = 0; e < k; e++) out.push(op.fn(cpu, cat[2 * e]!, cat[2 * e + 1]!, o, 0n));
    } else for (let e = 0; e < k; e++) out.push(op.fn(cpu, a[e]!, b[e]!, o, acc[e] ?? 0n));
    write(cpu, o.d, o.size, out);
  };
}

function vec(raw: number, f: Partial<Vec>): Vec {
  return {
    raw,
    run: null,
    text: undefinedText(raw),
    q: 0,
    size: 0,
    bits: 8,
    u: false,
    n: 0,
    m: 0,
    d: 0,
    imm: 0,
    scalar: false,
    opc: 0,
    ...f,
  };
}

const V = (n: number, size: number, q: number): string => `v${n}.${arrangement(size, q)}`;
const S = (n: number, size: number): string => `${'bhsd'[size]}${n}`;

function decodeSame(
  raw: number,
  q: number,
  u: number,
  size: number,
  m: number,
  opcode: number,
  n: number,
  d: number,
  scalar: boolean,
): Vec {
  const base = { q, size, bits: 8 << size, u: u !== 0, n, m, d, scalar };
  if (!scalar && opcode === 0b00011) {
    const opc = (u << 2) | size;
    const mn = LOGIC[opc]!;
    const text =
      opc === 2 && n === m ? `mov\t${V(d, 0, q)}, ${V(n, 0, q)}` : `${mn}\t${V(d, 0, q)}, ${V(n, 0, q)}, ${V(m, 0, q)}`;
    return vec(raw, { ...base, opc, run: logic, text });
  }
  const op = SAME[(u << 5) | opcode];
  if (op === undefined) return vec(raw, base);
  const sizes = scalar ? (op.scalarSizes ?? 0) : op.sizes;
  if (((sizes >>> size) & 1) === 0 || (!scalar && size === 3 && q === 0)) return vec(raw, base);
  const text = scalar
    ? `${op.name}\t${S(d, size)}, ${S(n, size)}, ${S(m, size)}`
    : `${op.name}\t${V(d, size, q)}, ${V(n, size, q)}, ${V(m, size, q)}`;
  return vec(raw, { ...base, run: sameRun(op), text });
}

// --- two-register miscellaneous ---------------------------------------------------------

type Unary = (cpu: Cpu, a: bigint, o: Vec, acc: bigint) => bigint;

interface MiscOp {
  readonly name: string;
  readonly fn?: Unary;
  readonly sizes: number;
  readonly scalarSizes?: number;
  /** Whole-vector forms (REV, pairwise long, narrowing, SHLL) with their own runner. */
  readonly run?: (cpu: Cpu, o: Vec) => void;
  /** objdump's operand text, when not `Vd.T, Vn.T`. */
  readonly operands?: (o: Vec) => string;
  readonly zero?: boolean;
}

function reverse(container: number): (cpu: Cpu, o: Vec) => void {
  return (cpu, o) => {
    const k = count(o);
    const a = read(cpu, o.n, o.size, k);
    const per = container / o.bits;
    write(
      cpu,
      o.d,
      o.size,
      a.map((_, e) => a[e - (e % per) + (per - 1 - (e % per))]!),
    );
  };
}

/** SADDLP/UADDLP/SADALP/UADALP: adjacent pairs added into lanes twice as wide. */
function pairwiseLong(accumulate: boolean): (cpu: Cpu, o: Vec) => void {
  return (cpu, o) => {
    const k = count(o);
    const a = read(cpu, o.n, o.size, k);
    const wide = o.size + 1;
    const acc = read(cpu, o.d, wide, k / 2);
    const out: bigint[] = [];
    for (let e = 0; e < k / 2; e++) {
      const s = int(a[2 * e]!, o.bits, o.u) + int(a[2 * e + 1]!, o.bits, o.u);
      out.push(BigInt.asUintN(2 * o.bits, s + (accumulate ? acc[e]! : 0n)));
    }
    write(cpu, o.d, wide, out);
  };
}

/** XTN, SQXTN, UQXTN, SQXTUN: each 2N-bit lane narrowed to N bits (the "2" forms into the upper half). */
function narrow(kind: 'xtn' | 'sqxtn' | 'uqxtn' | 'sqxtun'): (cpu: Cpu, o: Vec) => void {
  return (cpu, o) => {
    const k = o.scalar ? 1 : 64 / o.bits;
    const a = read(cpu, o.n, o.size + 1, k);
    const out = a.map((x) => {
      if (kind === 'xtn') return BigInt.asUintN(o.bits, x);
      const src = kind === 'uqxtn' ? x : BigInt.asIntN(2 * o.bits, x);
      return satQ(cpu, src, o.bits, kind !== 'sqxtn');
    });
    writeNarrow(cpu, o, out);
  };
}

/** Writes a narrowed result: the lower half (upper cleared), or for Q=1 the upper half (lower kept). */
function writeNarrow(cpu: Cpu, o: Vec, lanes: readonly bigint[]): void {
  if (o.scalar || o.q === 0) {
    write(cpu, o.d, o.size, lanes);
    return;
  }
  lanes.forEach((x, e) => setElem(cpu.v, o.d, lanes.length + e, o.size, x));
}

function shll(cpu: Cpu, o: Vec): void {
  const k = 64 / o.bits;
  const a = read(cpu, o.n, o.size, k, o.q ? k : 0);
  write(
    cpu,
    o.d,
    o.size + 1,
    a.map((x) => x << BigInt(o.bits)),
  );
}

const countLeading = (x: bigint, bits: number): number => {
  let n = 0;
  for (let i = bits - 1; i >= 0 && ((x >> BigInt(i)) & 1n) === 0n; i--) n++;
  return n;
};

/** U:opcode -> the two-register integer operation. */
const MISC: Readonly<Record<number, MiscOp>> = (() => {
  const t: Record<number, MiscOp> = {};
  const sx = (o: Vec, x: bigint): bigint => BigInt.asIntN(o.bits, x);
  t[0b00000] = { name: 'rev64', sizes: 7, run: reverse(64) };
  t[32 | 0b00000] = { name: 'rev32', sizes: 3, run: reverse(32) };
  t[0b00001] = { name: 'rev16', sizes: 1, run: reverse(16) };
  const long = (o: Vec): string => `${V(o.d, o.size + 1, o.q)}, ${V(o.n, o.size, o.q)}`;
  t[0b00010] = {
    name: 'saddlp',
    sizes: 7,
    run: pairwiseLong(false),
    operands: (o) => `${V(o.d, o.size + 1, o.q).replace(/^v\d+\.\d+/, (m) => m)}`.replace(/.*/, long(o)),
  };
  t[32 | 0b00010] = { name: 'uaddlp', sizes: 7, run: pairwiseLong(false), operands: long };
  t[0b00110] = { name: 'sadalp', sizes: 7, run: pairwiseLong(true), operands: long };
  t[32 | 0b00110] = { name: 'uadalp', sizes: 7, run: pairwiseLong(true), operands: long };
  t[0b00100] = {
    name: 'cls',
    sizes: 7,
    fn: (_c, a, o) => BigInt(countLeading(BigInt.asUintN(o.bits, a ^ (sx(o, a) < 0n ? ONES(o.bits) : 0n)), o.bits) - 1),
  };
  t[32 | 0b00100] = { name: 'clz', sizes: 7, fn: (_c, a, o) => BigInt(countLeading(a, o.bits)) };
  t[0b00101] = {
    name: 'cnt',
    sizes: 1,
    fn: (_c, a) => {
      let n = 0n;
      for (let x = a; x !== 0n; x >>= 1n) n += x & 1n;
      return n;
    },
  };
  t[0b00111] = { name: 'sqabs', sizes: 15, scalarSizes: 15, fn: (c, a, o) => satQ(c, abs(sx(o, a)), o.bits, false) };
  t[32 | 0b00111] = { name: 'sqneg', sizes: 15, scalarSizes: 15, fn: (c, a, o) => satQ(c, -sx(o, a), o.bits, false) };
  t[0b00011] = {
    name: 'suqadd',
    sizes: 15,
    scalarSizes: 15,
    fn: (c, a, o, acc) => satQ(c, sx(o, acc) + a, o.bits, false),
  };
  t[32 | 0b00011] = {
    name: 'usqadd',
    sizes: 15,
    scalarSizes: 15,
    fn: (c, a, o, acc) => satQ(c, acc + sx(o, a), o.bits, true),
  };
  const zero = (name: string, c: (x: bigint) => boolean): MiscOp => ({
    name,
    sizes: 15,
    scalarSizes: 8,
    zero: true,
    fn: (_c, a, o) => cmp(c(sx(o, a)), o.bits),
  });
  t[0b01000] = zero('cmgt', (x) => x > 0n);
  t[32 | 0b01000] = zero('cmge', (x) => x >= 0n);
  t[0b01001] = zero('cmeq', (x) => x === 0n);
  t[32 | 0b01001] = zero('cmle', (x) => x <= 0n);
  t[0b01010] = zero('cmlt', (x) => x < 0n);
  t[0b01011] = { name: 'abs', sizes: 15, scalarSizes: 8, fn: (_c, a, o) => BigInt.asUintN(o.bits, abs(sx(o, a))) };
  t[32 | 0b01011] = { name: 'neg', sizes: 15, scalarSizes: 8, fn: (_c, a, o) => BigInt.asUintN(o.bits, -a) };
  const narrowText = (o: Vec): string =>
    o.scalar ? `${S(o.d, o.size)}, ${S(o.n, o.size + 1)}` : `${V(o.d, o.size, o.q)}, ${V(o.n, o.size + 1, 1)}`;
  t[0b10010] = { name: 'xtn', sizes: 7, run: narrow('xtn'), operands: narrowText };
  t[32 | 0b10010] = { name: 'sqxtun', sizes: 7, scalarSizes: 7, run: narrow('sqxtun'), operands: narrowText };
  t[0b10100] = { name: 'sqxtn', sizes: 7, scalarSizes: 7, run: narrow('sqxtn'), operands: narrowText };
  t[32 | 0b10100] = { name: 'uqxtn', sizes: 7, scalarSizes: 7, run: narrow('uqxtn'), operands: narrowText };
  t[32 | 0b10011] = {
    name: 'shll',
    sizes: 7,
    run: shll,
    operands: (o) => `${V(o.d, o.size + 1, 1)}, ${V(o.n, o.size, o.q)}, #${o.bits}`,
  };
  return t;
})();

function miscRun(op: MiscOp): (cpu: Cpu, o: Vec) => void {
  if (op.run) return op.run;
  const fn = op.fn!;
  return (cpu, o) => {
    const k = count(o);
    const a = read(cpu, o.n, o.size, k);
    const acc = read(cpu, o.d, o.size, k);
    write(
      cpu,
      o.d,
      o.size,
      a.map((x, e) => fn(cpu, x, o, acc[e]!)),
    );
  };
}

function decodeMisc(
  raw: number,
  q: number,
  u: number,
  size: number,
  opcode: number,
  n: number,
  d: number,
  scalar: boolean,
): Vec {
  const base = { q, size, bits: 8 << size, u: u !== 0, n, d, scalar };
  // NOT and RBIT share CNT's opcode under U=1.
  if (!scalar && u === 1 && opcode === 0b00101) {
    if (size > 1) return vec(raw, base);
    const rbit = size === 1;
    const fn: Unary = rbit
      ? (_c, a) => {
          let r = 0n;
          for (let i = 0; i < 8; i++) if ((a >> BigInt(i)) & 1n) r |= 1n << BigInt(7 - i);
          return r;
        }
      : (_c, a) => a ^ 0xffn;
    return vec(raw, {
      ...base,
      size: 0,
      bits: 8,
      run: miscRun({ name: '', sizes: 1, fn }),
      text: `${rbit ? 'rbit' : 'mvn'}\t${V(d, 0, q)}, ${V(n, 0, q)}`,
    });
  }
  const op = MISC[(u << 5) | opcode];
  if (op === undefined) return vec(raw, base);
  const sizes = scalar ? (op.scalarSizes ?? 0) : op.sizes;
  const narrowing = /xtn$|xtun$/.test(op.name);
  if (((sizes >>> size) & 1) === 0 || (!scalar && size === 3 && q === 0 && !op.run)) return vec(raw, base);
  const o = vec(raw, { ...base, run: miscRun(op) });
  const name = !scalar && o.q && (narrowing || op.name === 'shll') ? `${op.name}2` : op.name;
  const operands = op.operands
    ? op.operands(o)
    : scalar
      ? `${S(d, size)}, ${S(n, size)}`
      : `${V(d, size, q)}, ${V(n, size, q)}`;
  return { ...o, text: `${name}\t${operands}${op.zero ? ', #0' : ''}` };
}

// --- across lanes and scalar pairwise ------------------------------------------------------

function decodeAcross(raw: number, q: number, u: number, size: number, opcode: number, n: number, d: number): Vec {
  const base = { q, size, bits: 8 << size, u: u !== 0, n, d };
  const names: Record<number, string> = {
    0b00011: 'saddlv',
    [32 | 0b00011]: 'uaddlv',
    0b01010: 'smaxv',
    [32 | 0b01010]: 'umaxv',
    0b11010: 'sminv',
    [32 | 0b11010]: 'uminv',
    0b11011: 'addv',
  };
  const name = names[(u << 5) | opcode];
  if (name === undefined || size === 3 || (size === 2 && q === 0)) return vec(raw, base);
  const long = opcode === 0b00011;
  const run = (cpu: Cpu, o: Vec): void => {
    const a = read(cpu, o.n, o.size, count(o)).map((x) => int(x, o.bits, o.u));
    let r = a[0]!;
    for (const x of a.slice(1)) {
      if (opcode === 0b01010) r = x > r ? x : r;
      else if (opcode === 0b11010) r = x < r ? x : r;
      else r += x;
    }
    const outSize = long ? o.size + 1 : o.size;
    setV(cpu.v, o.d, 1 << outSize, BigInt.asUintN(8 << outSize, r));
  };
  return vec(raw, { ...base, run, text: `${name}\t${S(d, long ? size + 1 : size)}, ${V(n, size, q)}` });
}

// --- three different types -----------------------------------------------------------------

function decodeDifferent(
  raw: number,
  q: number,
  u: number,
  size: number,
  m: number,
  opcode: number,
  n: number,
  d: number,
): Vec {
  const base = { q, size, bits: 8 << size, u: u !== 0, n, m, d };
  const signed = [
    'saddl',
    'saddw',
    'ssubl',
    'ssubw',
    'addhn',
    'sabal',
    'subhn',
    'sabdl',
    'smlal',
    'sqdmlal',
    'smlsl',
    'sqdmlsl',
    'smull',
    'sqdmull',
    'pmull',
  ];
  const unsigned = [
    'uaddl',
    'uaddw',
    'usubl',
    'usubw',
    'raddhn',
    'uabal',
    'rsubhn',
    'uabdl',
    'umlal',
    '',
    'umlsl',
    '',
    'umull',
    '',
    '',
  ];
  const name = (u ? unsigned : signed)[opcode];
  const doubling = opcode === 0b1001 || opcode === 0b1011 || opcode === 0b1101;
  if (!name || size === 3 || (doubling && (size === 0 || size === 3)) || (opcode === 0b1110 && size !== 0))
    return vec(raw, base);
  const half = 64 / (8 << size);
  const wideIn = opcode === 0b0001 || opcode === 0b0011;
  const narrowOut = opcode === 0b0100 || opcode === 0b0110;
  const run = (cpu: Cpu, o: Vec): void => {
    const bits = o.bits;
    const part = o.q ? half : 0;
    const a = narrowOut || wideIn ? read(cpu, o.n, o.size + 1, half) : read(cpu, o.n, o.size, half, part);
    const b = narrowOut ? read(cpu, o.m, o.size + 1, half) : read(cpu, o.m, o.size, half, part);
    const acc = read(cpu, o.d, o.size + 1, half);
    const w = 2 * bits;
    const out = a.map((x, e) => {
      const y = b[e]!;
      const sa = wideIn || narrowOut ? int(x, w, o.u) : int(x, bits, o.u);
      const sb = narrowOut ? int(y, w, o.u) : int(y, bits, o.u);
      switch (opcode) {
        case 0b0000:
        case 0b0001:
          return BigInt.asUintN(w, sa + sb);
        case 0b0010:
        case 0b0011:
          return BigInt.asUintN(w, sa - sb);
        case 0b0100:
        case 0b0110: {
          const r = opcode === 0b0100 ? x + y : x - y;
          return BigInt.asUintN(bits, (r + (o.u ? 1n << BigInt(bits - 1) : 0n)) >> BigInt(bits));
        }
        case 0b0101:
          return BigInt.asUintN(w, acc[e]! + abs(sa - sb));
        case 0b0111:
          return BigInt.asUintN(w, abs(sa - sb));
        case 0b1000:
          return BigInt.asUintN(w, acc[e]! + sa * sb);
        case 0b1010:
          return BigInt.asUintN(w, acc[e]! - sa * sb);
        case 0b1100:
          return BigInt.asUintN(w, sa * sb);
        case 0b1110:
          return BigInt.asUintN(w, polyMul(x, y, bits));
        default: {
          const p = satQ(cpu, 2n * sa * sb, w, false);
          if (opcode === 0b1101) return p;
          const s = BigInt.asIntN(w, acc[e]!) + (opcode === 0b1001 ? 1n : -1n) * BigInt.asIntN(w, p);
          return satQ(cpu, s, w, false);
        }
      }
    });
    if (narrowOut) writeNarrow(cpu, { ...o, size: o.size }, out);
    else write(cpu, o.d, o.size + 1, out);
  };
  const mn = q ? `${name}2` : name;
  const text = narrowOut
    ? `${mn}\t${V(d, size, q)}, ${V(n, size + 1, 1)}, ${V(m, size + 1, 1)}`
    : `${mn}\t${V(d, size + 1, 1)}, ${V(n, wideIn ? size + 1 : size, wideIn ? 1 : q)}, ${V(m, size, q)}`;
  return vec(raw, { ...base, run, text });
}

// --- shifts by immediate -----------------------------------------------------------------------

interface ShiftOp {
  readonly name: string;
  readonly kind: 'right' | 'left' | 'narrow' | 'long';
  readonly round?: boolean;
  readonly acc?: boolean;
  readonly insert?: boolean;
  readonly sat?: 'u' | 's' | 'su';
  /** Whole-64-bit-only scalar forms. */
  readonly scalarD?: boolean;
  readonly scalar?: boolean;
}

/** U:opcode -> shift by immediate. */
const SHIFTS: Readonly<Record<number, [ShiftOp, ShiftOp?]>> = {
  0b00000: [
    { name: 'sshr', kind: 'right', scalarD: true },
    { name: 'ushr', kind: 'right', scalarD: true },
  ],
  0b00010: [
    { name: 'ssra', kind: 'right', acc: true, scalarD: true },
    { name: 'usra', kind: 'right', acc: true, scalarD: true },
  ],
  0b00100: [
    { name: 'srshr', kind: 'right', round: true, scalarD: true },
    { name: 'urshr', kind: 'right', round: true, scalarD: true },
  ],
  0b00110: [
    { name: 'srsra', kind: 'right', round: true, acc: true, scalarD: true },
    { name: 'ursra', kind: 'right', round: true, acc: true, scalarD: true },
  ],
  0b01000: [
    { name: '', kind: 'right' },
    { name: 'sri', kind: 'right', insert: true, scalarD: true },
  ],
  0b01010: [
    { name: 'shl', kind: 'left', scalarD: true },
    { name: 'sli', kind: 'left', insert: true, scalarD: true },
  ],
  0b01100: [
    { name: '', kind: 'left' },
    { name: 'sqshlu', kind: 'left', sat: 'su', scalar: true },
  ],
  0b01110: [
    { name: 'sqshl', kind: 'left', sat: 's', scalar: true },
    { name: 'uqshl', kind: 'left', sat: 'u', scalar: true },
  ],
  0b10000: [
    { name: 'shrn', kind: 'narrow' },
    { name: 'sqshrun', kind: 'narrow', sat: 'su', scalar: true },
  ],
  0b10001: [
    { name: 'rshrn', kind: 'narrow', round: true },
    { name: 'sqrshrun', kind: 'narrow', round: true, sat: 'su', scalar: true },
  ],
  0b10010: [
    { name: 'sqshrn', kind: 'narrow', sat: 's', scalar: true },
    { name: 'uqshrn', kind: 'narrow', sat: 'u', scalar: true },
  ],
  0b10011: [
    { name: 'sqrshrn', kind: 'narrow', round: true, sat: 's', scalar: true },
    { name: 'uqrshrn', kind: 'narrow', round: true, sat: 'u', scalar: true },
  ],
  0b10100: [
    { name: 'sshll', kind: 'long' },
    { name: 'ushll', kind: 'long' },
  ],
};

function shiftRun(op: ShiftOp): (cpu: Cpu, o: Vec) => void {
  return (cpu, o) => {
    const bits = o.bits;
    const signedSrc = op.sat === 's' || op.sat === 'su' || (!o.u && op.sat === undefined);
    if (op.kind === 'long') {
      const k = 64 / bits;
      const a = read(cpu, o.n, o.size, k, o.q ? k : 0);
      write(
        cpu,
        o.d,
        o.size + 1,
        a.map((x) => BigInt.asUintN(2 * bits, int(x, bits, o.u) << BigInt(o.imm))),
      );
      return;
    }
    if (op.kind === 'narrow') {
      const k = o.scalar ? 1 : 64 / bits;
      const a = read(cpu, o.n, o.size + 1, k);
      const out = a.map((x) => {
        const src = int(x, 2 * bits, !signedSrc);
        const r = (src + (op.round ? 1n << BigInt(o.imm - 1) : 0n)) >> BigInt(o.imm);
        return op.sat === undefined ? BigInt.asUintN(bits, r) : satQ(cpu, r, bits, op.sat !== 's');
      });
      writeNarrow(cpu, o, out);
      return;
    }
    const k = count(o);
    const a = read(cpu, o.n, o.size, k);
    const d = read(cpu, o.d, o.size, k);
    const out = a.map((x, e) => {
      if (op.kind === 'left') {
        if (op.insert) {
          const mask = BigInt.asUintN(bits, ONES(bits) << BigInt(o.imm));
          return (d[e]! & ~mask) | (BigInt.asUintN(bits, x << BigInt(o.imm)) & mask);
        }
        if (op.sat === undefined) return BigInt.asUintN(bits, x << BigInt(o.imm));
        return satQ(cpu, int(x, bits, op.sat === 'u') << BigInt(o.imm), bits, op.sat !== 's');
      }
      if (op.insert) {
        const mask = ONES(bits) >> BigInt(o.imm);
        return (d[e]! & ~mask & ONES(bits)) | ((x >> BigInt(o.imm)) & mask);
      }
      const src = int(x, bits, o.u);
      const r = (src + (op.round ? 1n << BigInt(o.imm - 1) : 0n)) >> BigInt(o.imm);
      return BigInt.asUintN(bits, r + (op.acc ? d[e]! : 0n));
    });
    write(cpu, o.d, o.size, out);
  };
}

/** immh:immb with the element size from immh's highest set bit (the row fixes it). */
function decodeShift(
  raw: number,
  q: number,
  u: number,
  size: number,
  immhb: number,
  opcode: number,
  n: number,
  d: number,
  scalar: boolean,
): Vec {
  if (opcode === 0b11100 || opcode === 0b11111) {
    const fixed = decodeFixed(raw, q, u, immhb, opcode, n, d, scalar);
    return vec(raw, { run: fixed.run === null ? null : (cpu) => execF(cpu, fixed), text: fixed.text });
  }
  const pair = SHIFTS[opcode];
  const op = pair?.[u];
  const bits = 8 << size;
  const base = { q, u: u !== 0, n, d, scalar };
  if (op === undefined || op.name === '') return vec(raw, { ...base, size, bits });
  const narrowOrLong = op.kind === 'narrow' || op.kind === 'long';
  // immh's highest set bit gives the element size (the narrow one for narrowing and long forms).
  const esize = size;
  const ebits = bits;
  if (narrowOrLong && size === 3) return vec(raw, { ...base, size, bits });
  if (!narrowOrLong && !scalar && size === 3 && q === 0) return vec(raw, { ...base, size, bits });
  if (scalar && (op.kind === 'long' || !(op.scalar === true || (op.scalarD === true && size === 3))))
    return vec(raw, { ...base, size, bits });
  const right = op.kind === 'right' || op.kind === 'narrow';
  const amount = right ? 2 * ebits - immhb : immhb - ebits;
  const o = vec(raw, { ...base, size: esize, bits: ebits, imm: amount });
  const run = shiftRun(op);
  let text: string;
  const mn = !scalar && narrowOrLong && q ? `${op.name}2` : op.name;
  if (scalar)
    text =
      op.kind === 'narrow'
        ? `${mn}\t${S(d, esize)}, ${S(n, esize + 1)}, #${amount}`
        : `${mn}\t${S(d, esize)}, ${S(n, esize)}, #${amount}`;
  else if (op.kind === 'narrow') text = `${mn}\t${V(d, esize, q)}, ${V(n, esize + 1, 1)}, #${amount}`;
  else if (op.kind === 'long')
    text =
      amount === 0
        ? `${u ? 'uxtl' : 'sxtl'}${q ? '2' : ''}\t${V(d, esize + 1, 1)}, ${V(n, esize, q)}`
        : `${mn}\t${V(d, esize + 1, 1)}, ${V(n, esize, q)}, #${amount}`;
  else text = `${mn}\t${V(d, esize, q)}, ${V(n, esize, q)}, #${amount}`;
  return { ...o, run, text };
}

// --- permutes, EXT, TBL/TBX ------------------------------------------------------------------

const PERMUTE = ['', 'uzp1', 'trn1', 'zip1', '', 'uzp2', 'trn2', 'zip2'];

function permute(cpu: Cpu, o: Vec): void {
  const k = count(o);
  const a = read(cpu, o.n, o.size, k);
  const b = read(cpu, o.m, o.size, k);
  const part = o.opc >>> 2;
  const out: bigint[] = [];
  const half = k / 2;
  switch (o.opc & 3) {
    case 1: {
      const cat = [...a, ...b];
      for (let e = 0; e < k; e++) out.push(cat[2 * e + part]!);
      break;
    }
    case 2:
      for (let p = 0; p < half; p++) out.push(a[2 * p + part]!, b[2 * p + part]!);
      break;
    default:
      for (let p = 0; p < half; p++) out.push(a[part * half + p]!, b[part * half + p]!);
  }
  write(cpu, o.d, o.size, out);
}

function ext(cpu: Cpu, o: Vec): void {
  const k = o.q ? 16 : 8;
  const cat = [...read(cpu, o.n, 0, k), ...read(cpu, o.m, 0, k)];
  write(cpu, o.d, 0, cat.slice(o.imm, o.imm + k));
}

function tbl(cpu: Cpu, o: Vec): void {
  const k = o.q ? 16 : 8;
  const table: bigint[] = [];
  for (let r = 0; r < o.imm; r++) table.push(...read(cpu, (o.n + r) % 32, 0, 16));
  const idx = read(cpu, o.m, 0, k);
  const old = read(cpu, o.d, 0, k);
  write(
    cpu,
    o.d,
    0,
    idx.map((i, e) => (i < BigInt(table.length) ? table[Number(i)]! : o.opc ? old[e]! : 0n)),
  );
}

function tableText(o: Vec): string {
  const list =
    o.imm >= 3 && o.n + o.imm <= 32
      ? `{v${o.n}.16b-v${o.n + o.imm - 1}.16b}`
      : `{${Array.from({ length: o.imm }, (_, i) => `v${(o.n + i) % 32}.16b`).join(', ')}}`;
  return `${o.opc ? 'tbx' : 'tbl'}\t${V(o.d, 0, o.q)}, ${list}, ${V(o.m, 0, o.q)}`;
}

/** The opcode field bits [15:11] of these groups. */
const opcode5 = (raw: number): number => (raw >>> 12) & 31;

export const SIMD_INTEGER: readonly AnyEncoding[] = [
  encPrepared(
    '0 Q:1 U:1 01110 size:2 1 Rm:5 0 op:4 1 Rn:5 Rd:5',
    'AdvSIMD three same (integer, opcode 0xxxx)',
    (f) => decodeSame(f.raw, f.Q, f.U, f.size, f.Rm, f.op, f.Rn, f.Rd, false),
    execVec,
    (o) => o.text,
  ),
  encPrepared(
    '0 Q:1 U:1 01110 size:2 1 Rm:5 10 op:3 1 Rn:5 Rd:5',
    'AdvSIMD three same (integer, opcode 10xxx)',
    (f) => decodeSame(f.raw, f.Q, f.U, f.size, f.Rm, 0b10000 | f.op, f.Rn, f.Rd, false),
    execVec,
    (o) => o.text,
  ),
  encPrepared(
    '01 U:1 11110 size:2 1 Rm:5 0 op:4 1 Rn:5 Rd:5',
    'AdvSIMD scalar three same (integer, opcode 0xxxx)',
    (f) => decodeSame(f.raw, 0, f.U, f.size, f.Rm, f.op, f.Rn, f.Rd, true),
    execVec,
    (o) => o.text,
  ),
  encPrepared(
    '01 U:1 11110 size:2 1 Rm:5 10 op:3 1 Rn:5 Rd:5',
    'AdvSIMD scalar three same (integer, opcode 10xxx)',
    (f) => decodeSame(f.raw, 0, f.U, f.size, f.Rm, 0b10000 | f.op, f.Rn, f.Rd, true),
    execVec,
    (o) => o.text,
  ),
  ...[
    ['0 0xxx', 'opcode 00xxx-01xxx'],
    ['0 10xx', 'opcode 010xx'],
    ['1 001x', 'opcode 1001x'],
    ['1 0100', 'opcode 10100'],
  ].flatMap(([bits, what]) => [
    encPrepared(
      `0 Q:1 U:1 01110 size:2 10000 ${bits} 10 Rn:5 Rd:5` as '0 Q:1 U:1 01110 size:2 10000 xxxxx 10 Rn:5 Rd:5',
      `AdvSIMD two-reg misc (integer, ${what})`,
      (f) => decodeMisc(f.raw, f.Q, f.U, f.size, opcode5(f.raw), f.Rn, f.Rd, false),
      execVec,
      (o) => o.text,
    ),
    encPrepared(
      `01 U:1 11110 size:2 10000 ${bits} 10 Rn:5 Rd:5` as '01 U:1 11110 size:2 10000 xxxxx 10 Rn:5 Rd:5',
      `AdvSIMD scalar two-reg misc (integer, ${what})`,
      (f) => decodeMisc(f.raw, 0, f.U, f.size, opcode5(f.raw), f.Rn, f.Rd, true),
      execVec,
      (o) => o.text,
    ),
  ]),
  ...['00011', '01010', '11010', '11011'].map((bits) =>
    encPrepared(
      `0 Q:1 U:1 01110 size:2 11000 ${bits} 10 Rn:5 Rd:5` as '0 Q:1 U:1 01110 size:2 11000 xxxxx 10 Rn:5 Rd:5',
      `AdvSIMD across lanes (integer, opcode ${bits})`,
      (f) => decodeAcross(f.raw, f.Q, f.U, f.size, opcode5(f.raw), f.Rn, f.Rd),
      execVec,
      (o) => o.text,
    ),
  ),
  encPrepared(
    '01 0 11110 size:2 11000 11011 10 Rn:5 Rd:5',
    'ADDP (scalar)',
    (f) =>
      f.size !== 3
        ? vec(f.raw, {})
        : vec(f.raw, {
            size: 3,
            bits: 64,
            n: f.Rn,
            d: f.Rd,
            run: (cpu, o) => setV(cpu.v, o.d, 8, BigInt.asUintN(64, cpu.v.d[2 * o.n]! + cpu.v.d[2 * o.n + 1]!)),
            text: `addp\td${f.Rd}, v${f.Rn}.2d`,
          }),
    execVec,
    (o) => o.text,
  ),
  encPrepared(
    '0 Q:1 U:1 01110 size:2 1 Rm:5 opcode:4 00 Rn:5 Rd:5',
    'AdvSIMD three different',
    (f) => decodeDifferent(f.raw, f.Q, f.U, f.size, f.Rm, f.opcode, f.Rn, f.Rd),
    execVec,
    (o) => o.text,
  ),
  ...(['0001', '001x', '01xx', '1xxx'] as const).flatMap((immh, size) => [
    encPrepared(
      `0 Q:1 U:1 011110 ${immh} immb:3 opcode:5 1 Rn:5 Rd:5` as '0 Q:1 U:1 011110 xxxx immb:3 opcode:5 1 Rn:5 Rd:5',
      `AdvSIMD shift by immediate (${8 << size}-bit elements)`,
      (f) => decodeShift(f.raw, f.Q, f.U, size, (f.raw >>> 16) & 0x7f, f.opcode, f.Rn, f.Rd, false),
      execVec,
      (o) => o.text,
    ),
    encPrepared(
      `01 U:1 111110 ${immh} immb:3 opcode:5 1 Rn:5 Rd:5` as '01 U:1 111110 xxxx immb:3 opcode:5 1 Rn:5 Rd:5',
      `AdvSIMD scalar shift by immediate (${8 << size}-bit elements)`,
      (f) => decodeShift(f.raw, 0, f.U, size, (f.raw >>> 16) & 0x7f, f.opcode, f.Rn, f.Rd, true),
      execVec,
      (o) => o.text,
    ),
  ]),
  encPrepared(
    '0 Q:1 001110 size:2 0 Rm:5 0 opcode:3 10 Rn:5 Rd:5',
    'UZP/TRN/ZIP',
    (f) =>
      PERMUTE[f.opcode] === '' || (f.size === 3 && f.Q === 0)
        ? vec(f.raw, {})
        : vec(f.raw, {
            q: f.Q,
            size: f.size,
            bits: 8 << f.size,
            n: f.Rn,
            m: f.Rm,
            d: f.Rd,
            opc: f.opcode,
            run: permute,
            text: `${PERMUTE[f.opcode]}\t${V(f.Rd, f.size, f.Q)}, ${V(f.Rn, f.size, f.Q)}, ${V(f.Rm, f.size, f.Q)}`,
          }),
    execVec,
    (o) => o.text,
  ),
  encPrepared(
    '0 Q:1 101110 00 0 Rm:5 0 imm4:4 0 Rn:5 Rd:5',
    'EXT',
    (f) =>
      f.Q === 0 && f.imm4 >= 8
        ? vec(f.raw, {})
        : vec(f.raw, {
            q: f.Q,
            n: f.Rn,
            m: f.Rm,
            d: f.Rd,
            imm: f.imm4,
            run: ext,
            text: `ext\t${V(f.Rd, 0, f.Q)}, ${V(f.Rn, 0, f.Q)}, ${V(f.Rm, 0, f.Q)}, #${f.imm4}`,
          }),
    execVec,
    (o) => o.text,
  ),
  encPrepared(
    '0 Q:1 001110 00 0 Rm:5 0 len:2 op:1 00 Rn:5 Rd:5',
    'TBL/TBX',
    (f) => {
      const o = vec(f.raw, { q: f.Q, n: f.Rn, m: f.Rm, d: f.Rd, imm: f.len + 1, opc: f.op, run: tbl });
      return { ...o, text: tableText(o) };
    },
    execVec,
    (o) => o.text,
  ),
];
