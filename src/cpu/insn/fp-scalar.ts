// Scalar floating point: data processing with one, two and three sources (FMOV, FABS, FNEG,
// FSQRT, FCVT, FRINT*; FMUL, FDIV, FADD, FSUB, FMAX, FMIN, FMAXNM, FMINNM, FNMUL; the fused
// FMADD family), FCMP/FCMPE, FCCMP/FCCMPE, FCSEL, and the conversions to and from integers and
// fixed point. Single and double precision; half precision only as FCVT's source or destination
// (FEAT_FP16 arithmetic is not implemented, and ID_AA64PFR0_EL1 says so).
import type { AnyEncoding } from '../decode.js';
import { undefinedInstruction } from '../../pe/exception.js';
import { checkFPEnabled } from '../../pe/fp.js';
import { conditionHolds } from '../alu.js';
import { setX } from '../regs.js';
import { SR } from '../../sysregs/registry.js';
import { COND_NAMES, rz, undefinedText } from './dp-common.js';
import { encPrepared } from './ls-common.js';
import { getV, setV } from './simd-common.js';
import { F16, F32, F64, FPFlags, fpcrView, type FPCRView, type FPFormat } from '../fp/fpcore.js';
import {
  TIE_AWAY,
  fixedToFP,
  fpAdd,
  fpCompare,
  fpConvert,
  fpDiv,
  fpMaxMin,
  fpMaxMinNum,
  fpMul,
  fpMulAdd,
  fpRoundInt,
  fpSqrt,
  fpToFixed,
} from '../fp/arith.js';
import type { Cpu } from '../cpu.js';

/** The format of a `type` field: 00 single, 01 double, 11 half; null for 10. */
export function formatOf(type: number): FPFormat | null {
  return type === 0 ? F32 : type === 1 ? F64 : type === 3 ? F16 : null;
}

/** Runs one floating-point operation: the FPCR it reads, then its flags OR-ed into FPSR. */
export function withFP<T>(cpu: Cpu, op: (fpcr: FPCRView, flags: FPFlags) => T): T {
  checkFPEnabled(cpu);
  const flags = new FPFlags();
  const r = op(fpcrView(cpu.sr[SR.FPCR!]!), flags);
  if (flags.bits !== 0) cpu.sr[SR.FPSR!] = cpu.sr[SR.FPSR!]! | BigInt(flags.bits);
  return r;
}

const SIGN = (fmt: FPFormat): bigint => 1n << BigInt(fmt.n - 1);
const reg = (fmt: FPFormat, n: number): string => `${fmt.n === 16 ? 'h' : fmt.n === 32 ? 's' : 'd'}${n}`;

interface Scalar {
  readonly raw: number;
  readonly fmt: FPFormat | null;
  readonly op: number;
  readonly n: number;
  readonly m: number;
  readonly a: number;
  readonly d: number;
  readonly text: string;
  /** FCVT: the destination format. */
  readonly to: FPFormat | null;
  readonly cond: number;
  readonly nzcv: number;
}

function scalar(raw: number, f: Partial<Scalar>): Scalar {
  return { raw, fmt: null, op: 0, n: 0, m: 0, a: 0, d: 0, text: undefinedText(raw), to: null, cond: 0, nzcv: 0, ...f };
}

const text = (o: Scalar): string => o.text;

// --- one source ---------------------------------------------------------------------------

const ONE_SOURCE = [
  'fmov',
  'fabs',
  'fneg',
  'fsqrt',
  'fcvt',
  'fcvt',
  '',
  'fcvt',
  'frintn',
  'frintp',
  'frintm',
  'frintz',
  'frinta',
  '',
  'frintx',
  'frinti',
];

function decodeOne(raw: number, type: number, opcode: number, n: number, d: number): Scalar {
  const fmt = formatOf(type);
  const name = ONE_SOURCE[opcode];
  if (fmt === null || name === undefined || name === '') return scalar(raw, {});
  if (name === 'fcvt') {
    const to = formatOf(opcode & 3);
    if (to === null || to === fmt) return scalar(raw, {});
    return scalar(raw, { fmt, to, op: opcode, n, d, text: `fcvt\t${reg(to, d)}, ${reg(fmt, n)}` });
  }
  if (fmt === F16) return scalar(raw, {});
  return scalar(raw, { fmt, op: opcode, n, d, text: `${name}\t${reg(fmt, d)}, ${reg(fmt, n)}` });
}

/** FRINT* opcode -> rounding (-1: FPCR's), and whether it is FRINTX. */
const FRINT_ROUNDING = [0, 1, 2, 3, TIE_AWAY, -1, -1, -1];

function execOne(cpu: Cpu, o: Scalar): void {
  const fmt = o.fmt;
  if (fmt === null) throw undefinedInstruction(cpu);
  const bytes = fmt.n / 8;
  const a = getV(cpu.v, o.n, bytes);
  const r = withFP(cpu, (fpcr, flags) => {
    switch (o.op) {
      case 0:
        return a;
      case 1:
        return a & ~SIGN(fmt);
      case 2:
        return a ^ SIGN(fmt);
      case 3:
        return fpSqrt(a, fmt, fpcr, flags);
      case 4:
      case 5:
      case 7:
        return fpConvert(a, fmt, o.to!, fpcr, flags);
      default: {
        const rounding = FRINT_ROUNDING[o.op - 8]!;
        return fpRoundInt(a, rounding < 0 ? fpcr.rmode : rounding, o.op === 14, fmt, fpcr, flags);
      }
    }
  });
  setV(cpu.v, o.d, (o.to ?? fmt).n / 8, r);
}

// --- two sources ----------------------------------------------------------------------------

const TWO_SOURCE = ['fmul', 'fdiv', 'fadd', 'fsub', 'fmax', 'fmin', 'fmaxnm', 'fminnm', 'fnmul'];

/** The two-source operations, shared with the vector forms. */
export function fpBinary(op: string, a: bigint, b: bigint, fmt: FPFormat, fpcr: FPCRView, flags: FPFlags): bigint {
  switch (op) {
    case 'fmul':
      return fpMul(a, b, fmt, fpcr, flags);
    case 'fmulx':
      return fpMul(a, b, fmt, fpcr, flags, true);
    case 'fdiv':
      return fpDiv(a, b, fmt, fpcr, flags);
    case 'fadd':
      return fpAdd(a, b, fmt, fpcr, flags);
    case 'fsub':
      return fpAdd(a, b, fmt, fpcr, flags, true);
    case 'fabd':
      return fpAdd(a, b, fmt, fpcr, flags, true) & ~SIGN(fmt);
    case 'fmax':
      return fpMaxMin(a, b, true, fmt, fpcr, flags);
    case 'fmin':
      return fpMaxMin(a, b, false, fmt, fpcr, flags);
    case 'fmaxnm':
      return fpMaxMinNum(a, b, true, fmt, fpcr, flags);
    case 'fminnm':
      return fpMaxMinNum(a, b, false, fmt, fpcr, flags);
    default:
      return fpMul(a, b, fmt, fpcr, flags) ^ SIGN(fmt); // FNMUL: FPNeg of the product, NaN too
  }
}

function execTwo(cpu: Cpu, o: Scalar): void {
  const fmt = o.fmt;
  if (fmt === null) throw undefinedInstruction(cpu);
  const bytes = fmt.n / 8;
  const a = getV(cpu.v, o.n, bytes);
  const b = getV(cpu.v, o.m, bytes);
  setV(
    cpu.v,
    o.d,
    bytes,
    withFP(cpu, (fpcr, flags) => fpBinary(TWO_SOURCE[o.op]!, a, b, fmt, fpcr, flags)),
  );
}

// --- three sources ------------------------------------------------------------------------------

const THREE_SOURCE = ['fmadd', 'fmsub', 'fnmadd', 'fnmsub'];

function execThree(cpu: Cpu, o: Scalar): void {
  const fmt = o.fmt;
  if (fmt === null) throw undefinedInstruction(cpu);
  const bytes = fmt.n / 8;
  const s = SIGN(fmt);
  let addend = getV(cpu.v, o.a, bytes);
  let a = getV(cpu.v, o.n, bytes);
  const b = getV(cpu.v, o.m, bytes);
  if (o.op === 1 || o.op === 2) a ^= s;
  if (o.op >= 2) addend ^= s;
  setV(
    cpu.v,
    o.d,
    bytes,
    withFP(cpu, (fpcr, flags) => fpMulAdd(addend, a, b, fmt, fpcr, flags)),
  );
}

// --- compares and selects --------------------------------------------------------------------

function setNZCV(cpu: Cpu, nzcv: number): void {
  cpu.ps.nzcv = nzcv;
}

function execCompare(cpu: Cpu, o: Scalar): void {
  const fmt = o.fmt;
  if (fmt === null) throw undefinedInstruction(cpu);
  const bytes = fmt.n / 8;
  const a = getV(cpu.v, o.n, bytes);
  const b = (o.op & 1) !== 0 ? 0n : getV(cpu.v, o.m, bytes);
  setNZCV(
    cpu,
    withFP(cpu, (fpcr, flags) => fpCompare(a, b, (o.op & 2) !== 0, fmt, fpcr, flags)),
  );
}

function execCondCompare(cpu: Cpu, o: Scalar): void {
  const fmt = o.fmt;
  if (fmt === null) throw undefinedInstruction(cpu);
  checkFPEnabled(cpu);
  if (!conditionHolds(cpu.ps, o.cond)) {
    setNZCV(cpu, o.nzcv);
    return;
  }
  const bytes = fmt.n / 8;
  const a = getV(cpu.v, o.n, bytes);
  const b = getV(cpu.v, o.m, bytes);
  setNZCV(
    cpu,
    withFP(cpu, (fpcr, flags) => fpCompare(a, b, o.op === 1, fmt, fpcr, flags)),
  );
}

function execSelect(cpu: Cpu, o: Scalar): void {
  const fmt = o.fmt;
  if (fmt === null) throw undefinedInstruction(cpu);
  checkFPEnabled(cpu);
  const bytes = fmt.n / 8;
  setV(cpu.v, o.d, bytes, getV(cpu.v, conditionHolds(cpu.ps, o.cond) ? o.n : o.m, bytes));
}

// --- conversions to and from integers ---------------------------------------------------------

interface Convert {
  readonly raw: number;
  readonly fmt: FPFormat | null;
  /** To an integer (FCVT*) or from one (SCVTF/UCVTF). */
  readonly toInt: boolean;
  readonly unsigned: boolean;
  readonly rounding: number;
  readonly fbits: number;
  readonly sf: boolean;
  readonly n: number;
  readonly d: number;
  readonly text: string;
}

const FCVT_NAMES = ['n', 'p', 'm', 'z'];

function decodeConvert(
  raw: number,
  sf: number,
  type: number,
  rmode: number,
  opcode: number,
  n: number,
  d: number,
  fixed: boolean,
  scale: number,
): Convert {
  const fmt = formatOf(type);
  const base = {
    raw,
    fmt: null,
    toInt: false,
    unsigned: false,
    rounding: 0,
    fbits: 0,
    sf: sf !== 0,
    n,
    d,
    text: undefinedText(raw),
  };
  if (fmt === null || fmt === F16) return base;
  const fbits = fixed ? 64 - scale : 0;
  if (fixed && sf === 0 && scale < 32) return base;
  const fromInt = opcode === 2 || opcode === 3;
  const unsigned = (opcode & 1) !== 0;
  const tieAway = opcode === 4 || opcode === 5;
  if (fromInt ? rmode !== 0 : tieAway ? rmode !== 0 : opcode > 1) return base;
  if (fixed && (fromInt ? rmode !== 0 : rmode !== 3)) return base;
  const name = fromInt
    ? unsigned
      ? 'ucvtf'
      : 'scvtf'
    : `fcvt${tieAway ? 'a' : FCVT_NAMES[rmode]}${unsigned ? 'u' : 's'}`;
  const fp = reg(fmt, fromInt ? d : n);
  const gp = rz(fromInt ? n : d, sf);
  const ops = fromInt ? `${fp}, ${gp}` : `${gp}, ${fp}`;
  return {
    ...base,
    fmt,
    toInt: !fromInt,
    unsigned,
    rounding: tieAway ? TIE_AWAY : rmode,
    fbits,
    text: `${name}\t${ops}${fixed ? `, #${fbits}` : ''}`,
  };
}

function execConvert(cpu: Cpu, o: Convert): void {
  const fmt = o.fmt;
  if (fmt === null) throw undefinedInstruction(cpu);
  const bits = o.sf ? 64 : 32;
  if (o.toInt) {
    const a = getV(cpu.v, o.n, fmt.n / 8);
    setX(
      cpu,
      o.d,
      withFP(cpu, (fpcr, flags) => fpToFixed(a, o.fbits, o.unsigned, bits, o.rounding, fmt, fpcr, flags)),
    );
  } else {
    const v = cpu.x[o.n]!;
    const r = withFP(cpu, (fpcr, flags) => fixedToFP(v, o.fbits, o.unsigned, bits, fpcr.rmode, fmt, fpcr, flags));
    setV(cpu.v, o.d, fmt.n / 8, r);
  }
}

export const FP_SCALAR: readonly AnyEncoding[] = [
  encPrepared(
    'M:1 0 S:1 11110 type:2 1 opcode:6 10000 Rn:5 Rd:5',
    'FP data-processing (1 source)',
    (f) => (f.M || f.S ? scalar(f.raw, {}) : decodeOne(f.raw, f.type, f.opcode, f.Rn, f.Rd)),
    execOne,
    text,
  ),
  encPrepared(
    'M:1 0 S:1 11110 type:2 1 Rm:5 opcode:4 10 Rn:5 Rd:5',
    'FP data-processing (2 source)',
    (f) => {
      const fmt = formatOf(f.type);
      if (f.M || f.S || fmt === null || fmt === F16 || f.opcode > 8) return scalar(f.raw, {});
      return scalar(f.raw, {
        fmt,
        op: f.opcode,
        n: f.Rn,
        m: f.Rm,
        d: f.Rd,
        text: `${TWO_SOURCE[f.opcode]}\t${reg(fmt, f.Rd)}, ${reg(fmt, f.Rn)}, ${reg(fmt, f.Rm)}`,
      });
    },
    execTwo,
    text,
  ),
  encPrepared(
    'M:1 0 S:1 11111 type:2 o1:1 Rm:5 o0:1 Ra:5 Rn:5 Rd:5',
    'FP data-processing (3 source)',
    (f) => {
      const fmt = formatOf(f.type);
      if (f.M || f.S || fmt === null || fmt === F16) return scalar(f.raw, {});
      const op = (f.o1 << 1) | f.o0;
      const r = (n: number): string => reg(fmt, n);
      return scalar(f.raw, {
        fmt,
        op,
        n: f.Rn,
        m: f.Rm,
        a: f.Ra,
        d: f.Rd,
        text: `${THREE_SOURCE[op]}\t${r(f.Rd)}, ${r(f.Rn)}, ${r(f.Rm)}, ${r(f.Ra)}`,
      });
    },
    execThree,
    text,
  ),
  encPrepared(
    'M:1 0 S:1 11110 type:2 1 Rm:5 op:2 1000 Rn:5 opcode2:5',
    'FCMP/FCMPE',
    (f) => {
      const fmt = formatOf(f.type);
      const withZero = (f.opcode2 & 8) !== 0;
      if (f.M || f.S || f.op || fmt === null || fmt === F16 || (f.opcode2 & 7) !== 0 || (withZero && f.Rm !== 0))
        return scalar(f.raw, {});
      const e = (f.opcode2 & 16) !== 0;
      return scalar(f.raw, {
        fmt,
        op: (e ? 2 : 0) | (withZero ? 1 : 0),
        n: f.Rn,
        m: f.Rm,
        text: `fcmp${e ? 'e' : ''}\t${reg(fmt, f.Rn)}, ${withZero ? '#0.0' : reg(fmt, f.Rm)}`,
      });
    },
    execCompare,
    text,
  ),
  encPrepared(
    'M:1 0 S:1 11110 type:2 1 Rm:5 cond:4 01 Rn:5 op:1 nzcv:4',
    'FCCMP/FCCMPE',
    (f) => {
      const fmt = formatOf(f.type);
      if (f.M || f.S || fmt === null || fmt === F16) return scalar(f.raw, {});
      return scalar(f.raw, {
        fmt,
        op: f.op,
        n: f.Rn,
        m: f.Rm,
        cond: f.cond,
        nzcv: f.nzcv,
        text: `fccmp${f.op ? 'e' : ''}\t${reg(fmt, f.Rn)}, ${reg(fmt, f.Rm)}, #0x${f.nzcv.toString(16)}, ${COND_NAMES[f.cond]}`,
      });
    },
    execCondCompare,
    text,
  ),
  encPrepared(
    'M:1 0 S:1 11110 type:2 1 Rm:5 cond:4 11 Rn:5 Rd:5',
    'FCSEL',
    (f) => {
      const fmt = formatOf(f.type);
      if (f.M || f.S || fmt === null || fmt === F16) return scalar(f.raw, {});
      return scalar(f.raw, {
        fmt,
        n: f.Rn,
        m: f.Rm,
        d: f.Rd,
        cond: f.cond,
        text: `fcsel\t${reg(fmt, f.Rd)}, ${reg(fmt, f.Rn)}, ${reg(fmt, f.Rm)}, ${COND_NAMES[f.cond]}`,
      });
    },
    execSelect,
    text,
  ),
  ...['0 op:2', '10 op:1'].map((bits) =>
    encPrepared(
      `sf:1 0 S:1 11110 type:2 1 rmode:2 ${bits} 000000 Rn:5 Rd:5` as 'sf:1 0 S:1 11110 type:2 1 rmode:2 000 000000 Rn:5 Rd:5',
      `FP<->integer conversions (opcode ${bits.replace(/ .*/, 'x')})`,
      (f) => decodeConvert(f.raw, f.S ? 2 : f.sf, f.S ? 2 : f.type, f.rmode, (f.raw >>> 16) & 7, f.Rn, f.Rd, false, 0),
      execConvert,
      (o) => o.text,
    ),
  ),
  encPrepared(
    'sf:1 0 S:1 11110 type:2 0 rmode:2 opcode:3 scale:6 Rn:5 Rd:5',
    'FP<->fixed-point conversions',
    (f) => decodeConvert(f.raw, f.sf, f.S ? 2 : f.type, f.rmode, f.opcode, f.Rn, f.Rd, true, f.scale),
    execConvert,
    (o) => o.text,
  ),
];
