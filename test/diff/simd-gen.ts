// Random SIMD&FP programs for the differential test against QEMU, beside the integer generator
// (gen.ts). A program is a pure function of (seed, classes): a list of cases, each starting from
// fresh random state — V0–V31 from edge values (±0, ±inf, quiet and signalling NaNs, denormals,
// extremes of each element size), X0–X15, NZCV, an FPCR with a random rounding mode, FZ, DN and
// AHP, FPSR cleared, a 2 KiB scratch buffer of random bytes — running a few random instructions
// of the chosen classes, then dumping V0–V31, X0–X18, SP, NZCV, FPSR, FPCR and the buffer.
// Exceptions are logged (`!E <esr>`) and skipped, so a trapping or UNDEFINED case shows as such.
//
// Registers: X0–X15 data (X13 a small positive index, X14 a small negative one), X16–X18 and SP
// bases into the buffer; X19–X30 belong to the harness.
import { Rng } from './rng.js';

export const BUF_SIZE = 2048;
/** Bases start here in the buffer: every access of a case stays within it. */
const BASE_LO = 768;
const BASE_HI = 1024;

export type SimdClass = 'ls' | 'move' | 'int' | 'fp';

export interface SimdCase {
  /** The instructions under test. */
  lines: string[];
  v: bigint[];
  x: bigint[];
  bases: number[];
  nzcv: number;
  fpcr: number;
  buf: Uint8Array;
}

/** Bit patterns worth testing in every element size: signs, zeros, infinities, NaNs, denormals, extremes. */
const EDGE32 = [
  0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001,
  0xff900000, 0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff, 0xff7fffff, 0x4f000000, 0xcf000000, 0x5f000000,
  0x3f000000, 0x3fc00000, 0x40490fdb, 0x33800000, 0x4b800001, 0x7fffffff, 0x80000001, 0xffffffff,
];
const EDGE64 = [
  0x0n,
  0x8000000000000000n,
  0x3ff0000000000000n,
  0xbff0000000000000n,
  0x7ff0000000000000n,
  0xfff0000000000000n,
  0x7ff8000000000000n,
  0xfff8000000000001n,
  0x7ff0000000000001n,
  0xfff4000000000000n,
  0x1n,
  0x800fffffffffffffn,
  0x0010000000000000n,
  0x7fefffffffffffffn,
  0xffefffffffffffffn,
  0x43e0000000000000n,
  0xc3e0000000000000n,
  0x41e0000000000000n,
  0x3fe0000000000000n,
  0x3ff8000000000000n,
  0x400921fb54442d18n,
  0x3ca0000000000000n,
  0x4330000000000001n,
  0x7fffffffffffffffn,
  0x36a0000000000000n,
  0xffffffffffffffffn,
];

function lane64(r: Rng): bigint {
  switch (r.int(5)) {
    case 0:
      return r.pick(EDGE64);
    case 1:
      return (BigInt(r.pick(EDGE32)) << 32n) | BigInt(r.pick(EDGE32));
    case 2: {
      // Small numbers in both halves' float views, so arithmetic stays finite and exact often.
      const f = new Float32Array([(r.int(2001) - 1000) / 8, (r.int(2001) - 1000) / 16]);
      return new BigUint64Array(f.buffer)[0]!;
    }
    case 3:
      return new BigUint64Array(new Float64Array([(r.int(200001) - 100000) / 64]).buffer)[0]!;
    default:
      return r.u64();
  }
}

const pickReg = (r: Rng): number => r.int(32);

// --- the instruction templates, by class ----------------------------------------------

type Template = (r: Rng) => string;

const BASES = ['x16', 'x17', 'x18', 'sp'];
const SCALAR_SIZES = ['b', 'h', 's', 'd', 'q'];
const ARRANGEMENTS = ['8b', '16b', '4h', '8h', '2s', '4s', '1d', '2d'];

function lsTemplates(): Template[] {
  const t = (r: Rng): string => `${SCALAR_SIZES[r.int(5)]}${pickReg(r)}`;
  const sized = (r: Rng): [string, number] => {
    const s = r.int(5);
    return [`${SCALAR_SIZES[s]}${pickReg(r)}`, 1 << s];
  };
  const ldst = (r: Rng): string => (r.chance(0.5) ? 'ldr' : 'str');
  const pairRegs = (r: Rng): [string, string, number] => {
    const s = 2 + r.int(3);
    const a = pickReg(r);
    let b = pickReg(r);
    if (b === a) b = (a + 1) % 32;
    return [`${SCALAR_SIZES[s]}${a}`, `${SCALAR_SIZES[s]}${b}`, 1 << s];
  };
  return [
    (r) => {
      const [reg, size] = sized(r);
      return `${ldst(r)} ${reg}, [${r.pick(BASES)}, #${r.int(16) * size}]`;
    },
    (r) => `${r.chance(0.5) ? 'ldur' : 'stur'} ${t(r)}, [${r.pick(BASES)}, #${r.range(-64, 63)}]`,
    (r) => `${ldst(r)} ${t(r)}, [${r.pick(BASES)}, #${r.range(-32, 32)}]!`,
    (r) => `${ldst(r)} ${t(r)}, [${r.pick(BASES)}], #${r.range(-32, 32)}`,
    (r) => {
      const [reg, size] = sized(r);
      const base = r.pick(['x16', 'x17', 'x18', 'sp']);
      const s = Math.log2(size);
      return `${ldst(r)} ${reg}, [${base}, ${r.pick([
        `x13, lsl #${s}`,
        `w13, uxtw #${s}`,
        'x14, sxtx',
        `w14, sxtw #${s}`,
        'x13',
      ])}]`;
    },
    (r) => `ldr ${r.pick(['s', 'd', 'q'])}${pickReg(r)}, lit${r.int(4)}`,
    (r) => {
      const [a, b, size] = pairRegs(r);
      const off = r.range(-8, 7) * size;
      const op = r.pick(['ldp', 'stp', 'ldnp', 'stnp']);
      const base = r.pick(BASES);
      if (op.endsWith('np')) return `${op} ${a}, ${b}, [${base}, #${off}]`;
      return `${op} ${a}, ${b}, ${r.pick([`[${base}, #${off}]`, `[${base}, #${off}]!`, `[${base}], #${off}`])}`;
    },
    (r) => {
      // LD1–LD4/ST1–ST4, multiple structures.
      const [op, count] = r.pick([
        ['1', 1],
        ['1', 2],
        ['1', 3],
        ['1', 4],
        ['2', 2],
        ['3', 3],
        ['4', 4],
      ] as const);
      let arr = r.pick(ARRANGEMENTS);
      if (arr === '1d' && op !== '1') arr = '2d';
      const t0 = pickReg(r);
      const list = Array.from({ length: count }, (_, i) => `v${(t0 + i) % 32}.${arr}`).join(', ');
      const bytes =
        count * (arr.startsWith('16') || arr.startsWith('8h') || arr.startsWith('4s') || arr === '2d' ? 16 : 8);
      const post = r.pick(['', `, #${bytes}`, ', x13', ', x14']);
      return `${r.chance(0.5) ? 'ld' : 'st'}${op} {${list}}, [${r.pick(BASES)}]${post}`;
    },
    (r) => {
      // Single structure (one lane) and replicate.
      const n = 1 + r.int(4);
      const size = r.int(4);
      const t0 = pickReg(r);
      const base = r.pick(BASES);
      const bytes = n << size;
      const post = r.pick(['', `, #${bytes}`, ', x13', ', x14']);
      if (r.chance(0.3)) {
        const arr = ARRANGEMENTS[size * 2 + r.int(2)]!;
        const list = Array.from({ length: n }, (_, i) => `v${(t0 + i) % 32}.${arr}`).join(', ');
        return `ld${n}r {${list}}, [${base}]${post}`;
      }
      const lane = r.int(16 >> size);
      const list = Array.from({ length: n }, (_, i) => `v${(t0 + i) % 32}.${'bhsd'[size]}`).join(', ');
      return `${r.chance(0.5) ? 'ld' : 'st'}${n} {${list}}[${lane}], [${base}]${post}`;
    },
  ];
}

function moveTemplates(): Template[] {
  const lane = (r: Rng, size: number): string => `v${pickReg(r)}.${'bhsd'[size]}[${r.int(16 >> size)}]`;
  return [
    (r) => {
      const size = r.int(4);
      const arr = ARRANGEMENTS[size * 2 + (size === 3 ? 1 : r.int(2))]!;
      return r.chance(0.5)
        ? `dup v${pickReg(r)}.${arr}, ${lane(r, size)}`
        : `dup v${pickReg(r)}.${arr}, ${size === 3 ? 'x' : 'w'}${r.int(16)}`;
    },
    (r) => {
      const size = r.int(4);
      return `dup ${'bhsd'[size]}${pickReg(r)}, ${lane(r, size)}`;
    },
    (r) => {
      const size = r.int(4);
      return r.chance(0.5)
        ? `mov ${lane(r, size)}, ${size === 3 ? 'x' : 'w'}${r.int(16)}`
        : `mov ${lane(r, size)}, ${lane(r, size)}`;
    },
    (r) => {
      const size = r.int(4);
      return size < 2
        ? `umov w${r.int(16)}, ${lane(r, size)}`
        : `mov ${size === 3 ? 'x' : 'w'}${r.int(16)}, ${lane(r, size)}`;
    },
    (r) => {
      const size = r.int(3);
      return `smov ${size < 2 && r.chance(0.5) ? 'w' : 'x'}${r.int(16)}, ${lane(r, size)}`;
    },
    (r) => {
      const d = pickReg(r);
      const imm = `#0x${r.int(256).toString(16)}`;
      switch (r.int(7)) {
        case 0:
          return `movi v${d}.${r.pick(['2s', '4s'])}, ${imm}, lsl #${8 * r.int(4)}`;
        case 1:
          return `${r.pick(['mvni', 'orr', 'bic'])} v${d}.${r.pick(['4h', '8h'])}, ${imm}, lsl #${8 * r.int(2)}`;
        case 2:
          return `${r.pick(['movi', 'mvni'])} v${d}.${r.pick(['2s', '4s'])}, ${imm}, msl #${r.pick([8, 16])}`;
        case 3:
          return `movi v${d}.${r.pick(['8b', '16b'])}, ${imm}`;
        case 4: {
          let v = 0n;
          for (let b = 0; b < 8; b++) if (r.chance(0.5)) v |= 0xffn << BigInt(8 * b);
          return r.chance(0.5) ? `movi d${d}, #0x${v.toString(16)}` : `movi v${d}.2d, #0x${v.toString(16)}`;
        }
        case 5:
          return `fmov v${d}.${r.pick(['2s', '4s', '2d'])}, #${r.pick(['1.0', '-0.5', '31.0', '0.125', '-2.75', '15.5'])}`;
        default:
          return `${r.pick(['orr', 'bic', 'mvni'])} v${d}.${r.pick(['2s', '4s'])}, ${imm}, lsl #${8 * r.int(4)}`;
      }
    },
    (r) => {
      const d = pickReg(r);
      const g = r.int(16);
      return r.pick([
        `fmov s${d}, w${g}`,
        `fmov d${d}, x${g}`,
        `fmov w${g}, s${d}`,
        `fmov x${g}, d${d}`,
        `fmov v${d}.d[1], x${g}`,
        `fmov x${g}, v${d}.d[1]`,
      ]);
    },
    (r) => `fmov ${r.pick(['s', 'd'])}${pickReg(r)}, #${r.pick(['1.0', '-0.5', '31.0', '0.125', '-2.75', '0.1875'])}`,
  ];
}

function intTemplates(): Template[] {
  const arr = (r: Rng, sizes: number[], q64 = false): [string, number, number] => {
    const size = r.pick(sizes);
    const q = size === 3 && !q64 ? 1 : r.int(2);
    return [ARRANGEMENTS[size * 2 + q]!, size, q];
  };
  const v = (r: Rng, a: string): string => `v${pickReg(r)}.${a}`;
  const same =
    (names: string[], sizes: number[]): Template =>
    (r) => {
      const [a] = arr(r, sizes);
      return `${r.pick(names)} ${v(r, a)}, ${v(r, a)}, ${v(r, a)}`;
    };
  const misc =
    (names: string[], sizes: number[], suffix = ''): Template =>
    (r) => {
      const [a] = arr(r, sizes);
      return `${r.pick(names)} ${v(r, a)}, ${v(r, a)}${suffix}`;
    };
  const W = ['b', 'h', 's', 'd'];
  return [
    same(
      [
        'add',
        'sub',
        'cmeq',
        'cmhs',
        'cmhi',
        'cmgt',
        'cmge',
        'cmtst',
        'sqadd',
        'uqadd',
        'sqsub',
        'uqsub',
        'sshl',
        'ushl',
        'srshl',
        'urshl',
        'sqshl',
        'uqshl',
        'sqrshl',
        'uqrshl',
      ],
      [0, 1, 2, 3],
    ),
    same(
      [
        'shadd',
        'uhadd',
        'srhadd',
        'urhadd',
        'shsub',
        'uhsub',
        'smax',
        'umax',
        'smin',
        'umin',
        'sabd',
        'uabd',
        'saba',
        'uaba',
        'mla',
        'mls',
        'mul',
        'smaxp',
        'umaxp',
        'sminp',
        'uminp',
        'addp',
      ],
      [0, 1, 2],
    ),
    same(['sqdmulh', 'sqrdmulh'], [1, 2]),
    same(['pmul'], [0]),
    same(['and', 'bic', 'orr', 'orn', 'eor', 'bsl', 'bit', 'bif'], [0]),
    (r) => {
      const s = r.pick([0, 1, 2, 3]);
      const op =
        s === 3
          ? r.pick(['add', 'sub', 'cmeq', 'cmhs', 'cmgt', 'cmtst', 'sqadd', 'uqsub', 'ushl', 'srshl'])
          : r.pick(['sqadd', 'uqadd', 'sqsub', 'uqsub', 'sqshl', 'uqrshl']);
      return `${op} ${W[s]}${pickReg(r)}, ${W[s]}${pickReg(r)}, ${W[s]}${pickReg(r)}`;
    },
    misc(['cmeq', 'cmge', 'cmgt', 'cmle', 'cmlt'], [0, 1, 2, 3], ', #0'),
    misc(['abs', 'neg', 'sqabs', 'sqneg', 'suqadd', 'usqadd'], [0, 1, 2, 3]),
    misc(['cls', 'clz', 'rev64'], [0, 1, 2]),
    misc(['cnt', 'rev16', 'mvn', 'rbit'], [0]),
    misc(['rev32'], [0, 1]),
    (r) => {
      const size = r.int(3);
      const q = r.int(2);
      const op = r.pick(['saddlp', 'uaddlp', 'sadalp', 'uadalp']);
      return `${op} v${pickReg(r)}.${ARRANGEMENTS[(size + 1) * 2 + q]}, v${pickReg(r)}.${ARRANGEMENTS[size * 2 + q]}`;
    },
    (r) => {
      const size = r.int(3);
      const q = r.int(2);
      const op = r.pick(['xtn', 'sqxtn', 'uqxtn', 'sqxtun']);
      return `${op}${q ? '2' : ''} v${pickReg(r)}.${ARRANGEMENTS[size * 2 + q]}, v${pickReg(r)}.${ARRANGEMENTS[(size + 1) * 2 + 1]}`;
    },
    (r) => {
      const size = r.pick([0, 1, 2]);
      const q = size === 2 ? 1 : r.int(2);
      const op = r.pick(['addv', 'smaxv', 'umaxv', 'sminv', 'uminv', 'saddlv', 'uaddlv']);
      const dst = op.endsWith('lv') ? W[size + 1] : W[size];
      return `${op} ${dst}${pickReg(r)}, v${pickReg(r)}.${ARRANGEMENTS[size * 2 + q]}`;
    },
    (r) => `addp d${pickReg(r)}, v${pickReg(r)}.2d`,
    (r) => {
      const size = r.int(3);
      const q = r.int(2);
      const op = r.pick([
        'saddl',
        'uaddl',
        'ssubl',
        'usubl',
        'sabal',
        'uabal',
        'sabdl',
        'uabdl',
        'smlal',
        'umlal',
        'smlsl',
        'umlsl',
        'smull',
        'umull',
      ]);
      const n = `${ARRANGEMENTS[size * 2 + q]}`;
      return `${op}${q ? '2' : ''} v${pickReg(r)}.${ARRANGEMENTS[(size + 1) * 2 + 1]}, v${pickReg(r)}.${n}, v${pickReg(r)}.${n}`;
    },
    (r) => {
      const size = r.int(3);
      const q = r.int(2);
      const op = r.pick(['saddw', 'uaddw', 'ssubw', 'usubw']);
      const w = ARRANGEMENTS[(size + 1) * 2 + 1];
      return `${op}${q ? '2' : ''} v${pickReg(r)}.${w}, v${pickReg(r)}.${w}, v${pickReg(r)}.${ARRANGEMENTS[size * 2 + q]}`;
    },
    (r) => {
      const size = r.int(3);
      const q = r.int(2);
      const op = r.pick(['addhn', 'raddhn', 'subhn', 'rsubhn']);
      const w = ARRANGEMENTS[(size + 1) * 2 + 1];
      return `${op}${q ? '2' : ''} v${pickReg(r)}.${ARRANGEMENTS[size * 2 + q]}, v${pickReg(r)}.${w}, v${pickReg(r)}.${w}`;
    },
    (r) => {
      const size = r.pick([1, 2]);
      const q = r.int(2);
      const op = r.pick(['sqdmull', 'sqdmlal', 'sqdmlsl']);
      const n = ARRANGEMENTS[size * 2 + q];
      return `${op}${q ? '2' : ''} v${pickReg(r)}.${ARRANGEMENTS[(size + 1) * 2 + 1]}, v${pickReg(r)}.${n}, v${pickReg(r)}.${n}`;
    },
    (r) =>
      `pmull${r.chance(0.5) ? '2 v0.8h, v1.16b, v2.16b' : ` v${pickReg(r)}.8h, v${pickReg(r)}.8b, v${pickReg(r)}.8b`}`,
    (r) => {
      const [a, size] = arr(r, [0, 1, 2, 3]);
      const bits = 8 << size;
      const op = r.pick([
        'sshr',
        'ushr',
        'ssra',
        'usra',
        'srshr',
        'urshr',
        'srsra',
        'ursra',
        'sri',
        'shl',
        'sli',
        'sqshl',
        'uqshl',
        'sqshlu',
      ]);
      const left = ['shl', 'sli', 'sqshl', 'uqshl', 'sqshlu'].includes(op);
      return `${op} ${v(r, a)}, ${v(r, a)}, #${left ? r.int(bits) : 1 + r.int(bits)}`;
    },
    (r) => {
      const op = r.pick(['sshr', 'ushr', 'srsra', 'shl', 'sli', 'sri', 'sqshl', 'uqshl']);
      const left = ['shl', 'sli', 'sqshl', 'uqshl'].includes(op);
      return `${op} d${pickReg(r)}, d${pickReg(r)}, #${left ? r.int(64) : 1 + r.int(64)}`;
    },
    (r) => {
      const size = r.int(3);
      const q = r.int(2);
      const bits = 8 << size;
      const op = r.pick(['shrn', 'rshrn', 'sqshrn', 'uqshrn', 'sqrshrn', 'uqrshrn', 'sqshrun', 'sqrshrun']);
      return `${op}${q ? '2' : ''} v${pickReg(r)}.${ARRANGEMENTS[size * 2 + q]}, v${pickReg(r)}.${ARRANGEMENTS[(size + 1) * 2 + 1]}, #${1 + r.int(bits)}`;
    },
    (r) => {
      const size = r.int(3);
      const q = r.int(2);
      const op = r.pick(['sshll', 'ushll']);
      return `${op}${q ? '2' : ''} v${pickReg(r)}.${ARRANGEMENTS[(size + 1) * 2 + 1]}, v${pickReg(r)}.${ARRANGEMENTS[size * 2 + q]}, #${r.int(8 << size)}`;
    },
    (r) => {
      const [a] = arr(r, [0, 1, 2, 3]);
      return `${r.pick(['zip1', 'zip2', 'uzp1', 'uzp2', 'trn1', 'trn2'])} ${v(r, a)}, ${v(r, a)}, ${v(r, a)}`;
    },
    (r) => {
      const q = r.int(2);
      const a = q ? '16b' : '8b';
      return `ext ${v(r, a)}, ${v(r, a)}, ${v(r, a)}, #${r.int(q ? 16 : 8)}`;
    },
    (r) => {
      const q = r.int(2);
      const a = q ? '16b' : '8b';
      const len = 1 + r.int(4);
      const t0 = pickReg(r);
      const list = Array.from({ length: len }, (_, i) => `v${(t0 + i) % 32}.16b`).join(', ');
      return `${r.pick(['tbl', 'tbx'])} ${v(r, a)}, {${list}}, ${v(r, a)}`;
    },
  ];
}

function fpTemplates(): Template[] {
  const f = (r: Rng, t: string): string => `${t}${pickReg(r)}`;
  const t = (r: Rng): string => r.pick(['s', 'd']);
  return [
    (r) => {
      const p = t(r);
      return `${r.pick(['fmov', 'fabs', 'fneg', 'fsqrt', 'frintn', 'frintp', 'frintm', 'frintz', 'frinta', 'frintx', 'frinti'])} ${f(r, p)}, ${f(r, p)}`;
    },
    (r) => {
      const [a, b] = r.pick<[string, string]>([
        ['s', 'd'],
        ['d', 's'],
        ['h', 's'],
        ['s', 'h'],
        ['h', 'd'],
        ['d', 'h'],
      ]);
      return `fcvt ${f(r, a)}, ${f(r, b)}`;
    },
    (r) => {
      const p = t(r);
      return `${r.pick(['fmul', 'fdiv', 'fadd', 'fsub', 'fmax', 'fmin', 'fmaxnm', 'fminnm', 'fnmul'])} ${f(r, p)}, ${f(r, p)}, ${f(r, p)}`;
    },
    (r) => {
      const p = t(r);
      return `${r.pick(['fmadd', 'fmsub', 'fnmadd', 'fnmsub'])} ${f(r, p)}, ${f(r, p)}, ${f(r, p)}, ${f(r, p)}`;
    },
    (r) => {
      const p = t(r);
      return r.chance(0.3)
        ? `${r.pick(['fcmp', 'fcmpe'])} ${f(r, p)}, #0.0`
        : `${r.pick(['fcmp', 'fcmpe'])} ${f(r, p)}, ${f(r, p)}`;
    },
    (r) => {
      const p = t(r);
      return `${r.pick(['fccmp', 'fccmpe'])} ${f(r, p)}, ${f(r, p)}, #${r.int(16)}, ${r.pick(['eq', 'ne', 'lt', 'ge', 'hi', 'vs', 'al'])}`;
    },
    (r) => {
      const p = t(r);
      return `fcsel ${f(r, p)}, ${f(r, p)}, ${f(r, p)}, ${r.pick(['eq', 'ne', 'lt', 'ge', 'hi', 'vs'])}`;
    },
    (r) => {
      const g = `${r.pick(['w', 'x'])}${r.int(16)}`;
      const op = r.pick([
        'fcvtns',
        'fcvtnu',
        'fcvtps',
        'fcvtpu',
        'fcvtms',
        'fcvtmu',
        'fcvtzs',
        'fcvtzu',
        'fcvtas',
        'fcvtau',
      ]);
      return `${op} ${g}, ${f(r, t(r))}`;
    },
    (r) => `${r.pick(['scvtf', 'ucvtf'])} ${f(r, t(r))}, ${r.pick(['w', 'x'])}${r.int(16)}`,
    (r) => {
      const x = r.chance(0.5);
      const fb = 1 + r.int(x ? 64 : 32);
      return r.chance(0.5)
        ? `${r.pick(['fcvtzs', 'fcvtzu'])} ${x ? 'x' : 'w'}${r.int(16)}, ${f(r, t(r))}, #${fb}`
        : `${r.pick(['scvtf', 'ucvtf'])} ${f(r, t(r))}, ${x ? 'x' : 'w'}${r.int(16)}, #${fb}`;
    },
    // The estimates and their Newton steps, scalar.
    (r) => {
      const p = t(r);
      return `${r.pick(['frecpe', 'frsqrte', 'frecpx'])} ${f(r, p)}, ${f(r, p)}`;
    },
    (r) => {
      const p = t(r);
      return `${r.pick(['frecps', 'frsqrts', 'fabd', 'fmulx'])} ${f(r, p)}, ${f(r, p)}, ${f(r, p)}`;
    },
    // Vector FP: the same operations lane by lane, pairwise ones, compares to masks, reductions.
    (r) => {
      const a = r.pick(['2s', '4s', '2d']);
      const op = r.pick([
        'fadd',
        'fsub',
        'fmul',
        'fdiv',
        'fmax',
        'fmin',
        'fmaxnm',
        'fminnm',
        'fmla',
        'fmls',
        'fabd',
        'fmulx',
        'faddp',
        'fmaxp',
        'fminp',
        'fmaxnmp',
        'fminnmp',
        'frecps',
        'frsqrts',
        'fcmeq',
        'fcmge',
        'fcmgt',
        'facge',
        'facgt',
      ]);
      return `${op} v${r.int(32)}.${a}, v${r.int(32)}.${a}, v${r.int(32)}.${a}`;
    },
    (r) => {
      const a = r.pick(['2s', '4s', '2d']);
      const op = r.pick([
        'fabs',
        'fneg',
        'fsqrt',
        'frintn',
        'frintp',
        'frintm',
        'frintz',
        'frinta',
        'frintx',
        'frinti',
        'frecpe',
        'frsqrte',
        'fcvtzs',
        'fcvtzu',
        'fcvtns',
        'fcvtau',
        'scvtf',
        'ucvtf',
      ]);
      return `${op} v${r.int(32)}.${a}, v${r.int(32)}.${a}`;
    },
    (r) =>
      `${r.pick(['fmul', 'fmla', 'fmls', 'fmulx'])} v${r.int(32)}.4s, v${r.int(32)}.4s, v${r.int(16)}.s[${r.int(4)}]`,
    (r) => `${r.pick(['fmaxv', 'fminv', 'fmaxnmv', 'fminnmv'])} s${r.int(32)}, v${r.int(32)}.4s`,
    (r) =>
      r.pick([
        `fcvtn v${r.int(32)}.2s, v${r.int(32)}.2d`,
        `fcvtn2 v${r.int(32)}.4s, v${r.int(32)}.2d`,
        `fcvtl v${r.int(32)}.2d, v${r.int(32)}.2s`,
        `fcvtxn v${r.int(32)}.2s, v${r.int(32)}.2d`,
        `fcvtn v${r.int(32)}.4h, v${r.int(32)}.4s`,
        `fcvtl2 v${r.int(32)}.4s, v${r.int(32)}.8h`,
      ]),
    (r) => {
      const a = r.pick(['2s', '4s']);
      return `${r.pick(['urecpe', 'ursqrte'])} v${r.int(32)}.${a}, v${r.int(32)}.${a}`;
    },
  ];
}

const TEMPLATES: Record<SimdClass, Template[]> = {
  ls: lsTemplates(),
  move: moveTemplates(),
  int: intTemplates(),
  fp: fpTemplates(),
};

export function registerTemplates(cls: SimdClass, t: Template[]): void {
  TEMPLATES[cls].push(...t);
}

/** `count` cases of `perCase` instructions drawn from `classes`, from `seed`. */
export function generateCases(seed: number, classes: readonly SimdClass[], count: number, perCase = 4): SimdCase[] {
  const r = new Rng(seed, 0x5d);
  const templates = classes.flatMap((c) => TEMPLATES[c]);
  const cases: SimdCase[] = [];
  for (let i = 0; i < count; i++) {
    const v = Array.from({ length: 64 }, () => lane64(r));
    const x = Array.from({ length: 16 }, () =>
      r.chance(0.5) ? BigInt(r.range(-1000, 1000)) & 0xffff_ffff_ffff_ffffn : r.u64(),
    );
    x[13] = BigInt(r.int(16));
    x[14] = BigInt.asUintN(64, BigInt(-1 - r.int(16)));
    const bases = Array.from({ length: 4 }, (_, k) =>
      k === 3 ? r.range(BASE_LO / 16, BASE_HI / 16) * 16 : r.range(BASE_LO, BASE_HI),
    );
    const buf = new Uint8Array(BUF_SIZE);
    for (let k = 0; k < BUF_SIZE; k++) buf[k] = r.int(256);
    // RMode, FZ, DN, AHP at random; the AArch32 Len/Stride and FZ16 left 0.
    const fpcr =
      (r.int(4) << 22) | (r.chance(0.3) ? 1 << 24 : 0) | (r.chance(0.3) ? 1 << 25 : 0) | (r.chance(0.2) ? 1 << 26 : 0);
    cases.push({
      lines: Array.from({ length: perCase }, () => r.pick(templates)(r)),
      v,
      x,
      bases,
      nzcv: r.int(16) << 28,
      fpcr,
      buf,
    });
  }
  return cases;
}

const hex64 = (v: bigint): string => `0x${v.toString(16)}`;

/** The words each case dumps, in order (names for the harness's messages). */
export const DUMP_NAMES: readonly string[] = [
  ...Array.from({ length: 32 }, (_, i) => [`v${i}.d[0]`, `v${i}.d[1]`]).flat(),
  ...Array.from({ length: 19 }, (_, i) => `x${i}`),
  'sp',
  'nzcv',
  'fpsr',
  'fpcr',
  ...Array.from({ length: BUF_SIZE / 8 }, (_, i) => `buf+${i * 8}`),
];

/** The whole program: MMU on (RAM Normal memory, so unaligned accesses are allowed), the cases, exit. */
export function renderSimdProgram(cases: readonly SimdCase[]): string {
  const out: string[] = [
    '#include "virt.inc"',
    '\t.text',
    '\t.global _start',
    '_start:',
    '\tadr x0, vectors',
    '\tmsr vbar_el2, x0',
    '\tldr x0, =0xff00',
    '\tmsr mair_el2, x0',
    '\tldr x0, =(25 | (1 << 8) | (1 << 10) | (3 << 12) | (2 << 16) | (1 << 23) | (1 << 31))',
    '\tmsr tcr_el2, x0',
    '\tldr x0, =l1_table',
    '\tmsr ttbr0_el2, x0',
    '\tisb',
    '\tldr x0, =0x30c51835',
    '\tmsr sctlr_el2, x0',
    '\tmsr cptr_el2, xzr',
    '\tisb',
    '\tldr x24, =UART_BASE',
    '\tldr x28, =dump',
  ];
  cases.forEach((c, i) => {
    out.push(
      `\tmov x20, #${i}`,
      '\tbl case_header',
      `\tldr x19, =vinit${i}`,
      ...Array.from({ length: 16 }, (_, k) => `\tldp q${2 * k}, q${2 * k + 1}, [x19], #32`),
      `\tldr x19, =xinit${i}`,
      ...Array.from({ length: 8 }, (_, k) => `\tldp x${2 * k}, x${2 * k + 1}, [x19], #16`),
      `\tldr x19, =bufinit${i}`,
      '\tbl reset_buf',
      `\tldr x16, =buf + ${c.bases[0]}`,
      `\tldr x17, =buf + ${c.bases[1]}`,
      `\tldr x18, =buf + ${c.bases[2]}`,
      `\tldr x19, =buf + ${c.bases[3]}`,
      '\tmov sp, x19',
      `\tldr x19, =${c.fpcr}`,
      '\tmsr fpcr, x19',
      '\tmsr fpsr, xzr',
      `\tldr x19, =${c.nzcv >>> 0}`,
      '\tmsr nzcv, x19',
      ...c.lines.map((l) => `\t${l}`),
      '\tbl dump_state',
    );
  });
  out.push(
    '\tSEMIHOSTING_EXIT',
    // Prints "== case <x20> ==".
    'case_header:',
    '\tmov x29, x30',
    '\tmov w25, #61',
    '\tstrb w25, [x24]',
    '\tstrb w25, [x24]',
    '\tmov x22, x20',
    '\tbl puthex',
    '\tret x29',
    // Copies 2 KiB from x19 to buf.
    'reset_buf:',
    '\tldr x20, =buf',
    '\tmov x21, #(2048 / 16)',
    '1:\tldp x22, x23, [x19], #16',
    '\tstp x22, x23, [x20], #16',
    '\tsubs x21, x21, #1',
    '\tb.ne 1b',
    '\tret',
    'dump_state:',
    '\tmov x29, x30',
    ...Array.from({ length: 16 }, (_, k) => `\tstp q${2 * k}, q${2 * k + 1}, [x28, #${32 * k}]`),
    '\tadd x19, x28, #512',
    ...Array.from({ length: 9 }, (_, k) => `\tstp x${2 * k}, x${2 * k + 1}, [x19, #${16 * k}]`),
    '\tstr x18, [x19, #144]',
    '\tmov x20, sp',
    '\tstr x20, [x19, #152]',
    '\tmrs x20, nzcv',
    '\tstr x20, [x19, #160]',
    '\tmrs x20, fpsr',
    '\tstr x20, [x19, #168]',
    '\tmrs x20, fpcr',
    '\tstr x20, [x19, #176]',
    '\tmov x20, x28',
    '\tmov x21, #(696 / 8)',
    '\tbl putwords',
    '\tldr x20, =buf',
    '\tmov x21, #(2048 / 8)',
    '\tbl putwords',
    '\tret x29',
    // Prints x21 doublewords from x20, one per line.
    'putwords:',
    '\tmov x27, x30',
    '2:\tldr x22, [x20], #8',
    '\tbl puthex',
    '\tsubs x21, x21, #1',
    '\tb.ne 2b',
    '\tret x27',
    // Prints x22 as 16 hex digits and a newline; clobbers x23, x25, x26.
    'puthex:',
    '\tmov x23, #60',
    '3:\tlsr x25, x22, x23',
    '\tand x25, x25, #0xf',
    '\tcmp x25, #10',
    '\tadd x26, x25, #87',
    '\tadd x25, x25, #48',
    '\tcsel x25, x25, x26, lo',
    '\tstrb w25, [x24]',
    '\tsubs x23, x23, #4',
    '\tb.ge 3b',
    '\tmov w25, #10',
    '\tstrb w25, [x24]',
    '\tret',
    // Literals for LDR (literal).
    '\t.balign 16',
    ...Array.from({ length: 4 }, (_, k) => `lit${k}: .quad ${hex64(EDGE64[k * 5]!)}, ${hex64(EDGE64[k * 5 + 3]!)}`),
    '\t.ltorg',
    // Exceptions: "!E <esr>", then on after the instruction (x30 is saved: the case may be in a bl'd routine).
    '\t.balign 2048',
    'vectors:',
    '\t.fill 128, 4, 0xd4200000',
    '\tmov x21, x30',
    '\tmov w25, #33',
    '\tstrb w25, [x24]',
    '\tmrs x22, esr_el2',
    '\tbl puthex',
    '\tmrs x22, elr_el2',
    '\tadd x22, x22, #4',
    '\tmsr elr_el2, x22',
    '\tmov x30, x21',
    '\teret',
    '\t.data',
    '\t.balign 4096',
    'l1_table:',
    '\t.quad 0x00000401',
    '\t.quad 0x40000705',
    '\t.fill 510, 8, 0',
    '\t.balign 16',
    'dump: .fill 96, 8, 0',
    'buf: .fill 2048, 1, 0',
  );
  cases.forEach((c, i) => {
    out.push(`vinit${i}: .quad ${c.v.map(hex64).join(', ')}`);
    out.push(`xinit${i}: .quad ${c.x.map(hex64).join(', ')}`);
    out.push(`bufinit${i}: .byte ${Array.from(c.buf).join(', ')}`);
  });
  return out.join('\n') + '\n';
}

export { Rng };
