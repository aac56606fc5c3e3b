// Random A64 integer programs for the differential test against QEMU, FEAT_LSE atomics and
// FEAT_CRC32 included.
//
// A program is a pure function of (seed, index). It starts from random "interesting" values in
// X0–X30, SP and NZCV, runs a few hundred random instructions (units), then dumps X0–X30, SP,
// NZCV and a checksum of its scratch buffer to the PL011. Everything it executes is
// architecturally defined: no UNPREDICTABLE/CONSTRAINED forms, naturally aligned memory accesses
// only (with the MMU off data accesses are Device memory, where unaligned accesses fault), all
// control flow forward, so every program terminates.
//
// One register, the base B, is reserved: it always points into the 4 KiB scratch buffer. Its
// offset from the buffer start is tracked as an interval (forward branches can skip writebacks)
// kept inside [BASE_LO, BASE_HI], so every access at B+[-1024, +1008] stays inside the buffer.
import { Rng } from './rng.js';

export const SCRATCH_SIZE = 4096;
const BASE_LO = 1024;
const BASE_HI = 3072;
const OFF_MIN = -1024;
const OFF_MAX = 1008;

/** One indivisible piece of a program: branch targets and cut points fall only between units. */
export interface Unit {
  /** Assembly lines; `%T` is the branch target's label, `%L` the unit's literal. */
  lines: string[];
  /** For branches: the unit index before which the target label stands (may equal units.length). */
  target?: number;
  /** A 64-bit literal-pool entry the unit loads (`%L`). */
  literal?: bigint;
}

export interface Program {
  seed: number;
  index: number;
  /** The reserved base register. */
  base: number;
  baseOffset: number;
  /** Initial X0–X30 (the base's entry is unused), SP and NZCV (bits 31:28). */
  regs: bigint[];
  sp: bigint;
  nzcv: number;
  /** Seeds the guest's fill of the scratch buffer. */
  fillSeed: bigint;
  units: Unit[];
}

const MASK64 = (1n << 64n) - 1n;
const CONDS = ['eq', 'ne', 'cs', 'cc', 'mi', 'pl', 'vs', 'vc', 'hi', 'ls', 'ge', 'lt', 'gt', 'le', 'al', 'nv'] as const;
const CONDS_NO_AL = CONDS.slice(0, 14);
const INTERESTING: readonly bigint[] = [
  0n,
  1n,
  2n,
  MASK64,
  MASK64 - 1n,
  0x7fff_ffffn,
  0x8000_0000n,
  0xffff_ffffn,
  0x1_0000_0000n,
  0xffff_ffff_8000_0000n,
  0x7fff_ffff_ffff_ffffn,
  0x8000_0000_0000_0000n,
  0x8000_0000_0000_0001n,
  31n,
  32n,
  63n,
  64n,
  0xffn,
  0xffffn,
  0x8000n,
  0x80n,
  0x5555_5555_5555_5555n,
  0xaaaa_aaaa_aaaa_aaaan,
];

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

export function randomValue(rng: Rng): bigint {
  return rng.weighted<() => bigint>([
    [40, () => rng.pick(INTERESTING)],
    [30, () => rng.u64()],
    [15, () => BigInt(rng.u32())],
    [15, () => BigInt.asUintN(64, BigInt(rng.range(-16, 16)))],
  ])();
}

/** A valid logical (bitmask) immediate: `ones` set bits rotated within an element, replicated. */
export function bitmaskImmediate(rng: Rng, sf: boolean): bigint {
  const e = rng.pick(sf ? [2, 4, 8, 16, 32, 64] : [2, 4, 8, 16, 32]);
  const ones = rng.range(1, e - 1);
  const rot = rng.int(e);
  const emask = (1n << BigInt(e)) - 1n;
  let elem = (1n << BigInt(ones)) - 1n;
  elem = ((elem >> BigInt(rot)) | (elem << BigInt(e - rot))) & emask;
  const width = sf ? 64 : 32;
  let v = 0n;
  for (let i = 0; i < width; i += e) v |= elem << BigInt(i);
  return v;
}

interface Interval {
  lo: number;
  hi: number;
}

class Generator {
  readonly units: Unit[] = [];
  /** Registers that the unit being built must not write (besides B). */
  private reserved = new Set<number>();
  private cur: Interval;
  private readonly incoming = new Map<number, Interval>();

  constructor(
    private readonly rng: Rng,
    readonly base: number,
    baseOffset: number,
    private readonly count: number,
  ) {
    this.cur = { lo: baseOffset, hi: baseOffset };
  }

  // --- registers -----------------------------------------------------------

  private r(sf: boolean, n: number): string {
    return n === 31 ? (sf ? 'xzr' : 'wzr') : `${sf ? 'x' : 'w'}${n}`;
  }
  private rsp(sf: boolean, n: number): string {
    return n === 31 ? (sf ? 'sp' : 'wsp') : `${sf ? 'x' : 'w'}${n}`;
  }
  private get B(): string {
    return `x${this.base}`;
  }

  /** A destination: never B nor a reserved register; 31 (ZR or SP, by form) now and then. */
  private dst(allow31 = true): number {
    if (allow31 && this.rng.chance(0.06)) return 31;
    for (;;) {
      const n = this.rng.int(31);
      if (n !== this.base && !this.reserved.has(n)) return n;
    }
  }
  /** A destination different from all of `not`. */
  private dstNot(not: number[], allow31 = true): number {
    for (;;) {
      const n = this.dst(allow31);
      if (!not.includes(n)) return n;
    }
  }
  private src(): number {
    return this.rng.chance(0.06) ? 31 : this.rng.int(31);
  }
  private srcNot(not: number[]): number {
    for (;;) {
      const n = this.src();
      if (!not.includes(n)) return n;
    }
  }
  private sf(): boolean {
    return this.rng.chance(0.6);
  }
  private cond(): string {
    return this.rng.pick(CONDS);
  }

  // --- data processing -----------------------------------------------------

  private addSubImm(): string[] {
    const sf = this.sf(),
      s = this.rng.chance(0.35) ? 's' : '';
    const d = s ? this.r(sf, this.dst()) : this.rsp(sf, this.dst());
    const sh = this.rng.chance(0.3) ? ', lsl #12' : '';
    return [`${this.rng.pick(['add', 'sub'])}${s} ${d}, ${this.rsp(sf, this.src())}, #${this.rng.int(4096)}${sh}`];
  }

  private addSubShifted(): string[] {
    const sf = this.sf(),
      s = this.rng.chance(0.35) ? 's' : '';
    const sh = this.rng.pick(['lsl', 'lsr', 'asr']);
    return [
      `${this.rng.pick(['add', 'sub'])}${s} ${this.r(sf, this.dst())}, ${this.r(sf, this.src())}, ${this.r(sf, this.src())}, ${sh} #${this.rng.int(sf ? 64 : 32)}`,
    ];
  }

  private addSubExtended(): string[] {
    const sf = this.sf(),
      s = this.rng.chance(0.35) ? 's' : '';
    const ext = this.rng.pick(['uxtb', 'uxth', 'uxtw', 'uxtx', 'sxtb', 'sxth', 'sxtw', 'sxtx']);
    const mX = sf && ext.endsWith('x');
    const d = s ? this.r(sf, this.dst()) : this.rsp(sf, this.dst());
    const amt = this.rng.int(5);
    return [
      `${this.rng.pick(['add', 'sub'])}${s} ${d}, ${this.rsp(sf, this.src())}, ${this.r(mX, this.src())}, ${ext} #${amt}`,
    ];
  }

  private addSubCarry(): string[] {
    const sf = this.sf(),
      s = this.rng.chance(0.5) ? 's' : '';
    return [
      `${this.rng.pick(['adc', 'sbc'])}${s} ${this.r(sf, this.dst())}, ${this.r(sf, this.src())}, ${this.r(sf, this.src())}`,
    ];
  }

  private logicalImm(): string[] {
    const sf = this.sf();
    const op = this.rng.pick(['and', 'orr', 'eor', 'ands']);
    const d = op === 'ands' ? this.r(sf, this.dst()) : this.rsp(sf, this.dst());
    return [`${op} ${d}, ${this.r(sf, this.src())}, #${hex(bitmaskImmediate(this.rng, sf))}`];
  }

  private logicalShifted(): string[] {
    const sf = this.sf();
    const op = this.rng.pick(['and', 'bic', 'orr', 'orn', 'eor', 'eon', 'ands', 'bics']);
    const sh = this.rng.pick(['lsl', 'lsr', 'asr', 'ror']);
    return [
      `${op} ${this.r(sf, this.dst())}, ${this.r(sf, this.src())}, ${this.r(sf, this.src())}, ${sh} #${this.rng.int(sf ? 64 : 32)}`,
    ];
  }

  private moveWide(): string[] {
    const sf = this.sf();
    const hw = this.rng.int(sf ? 4 : 2);
    return [
      `${this.rng.pick(['movz', 'movn', 'movk'])} ${this.r(sf, this.dst())}, #${hex(this.rng.int(0x10000))}, lsl #${16 * hw}`,
    ];
  }

  private bitfield(): string[] {
    const sf = this.sf(),
      w = sf ? 64 : 32;
    const d = this.r(sf, this.dst()),
      n = this.r(sf, this.src());
    if (this.rng.chance(0.6)) {
      return [`${this.rng.pick(['sbfm', 'bfm', 'ubfm'])} ${d}, ${n}, #${this.rng.int(w)}, #${this.rng.int(w)}`];
    }
    const lsb = this.rng.int(w),
      width = this.rng.range(1, w - lsb);
    const nw = this.r(false, this.src());
    return [
      this.rng.pick([
        () => `${this.rng.pick(['asr', 'lsr', 'lsl'])} ${d}, ${n}, #${this.rng.int(w)}`,
        () => `${this.rng.pick(sf ? ['sxtb', 'sxth', 'sxtw'] : ['sxtb', 'sxth', 'uxtb', 'uxth'])} ${d}, ${nw}`,
        () => `${this.rng.pick(['sbfx', 'ubfx', 'sbfiz', 'ubfiz', 'bfi', 'bfxil'])} ${d}, ${n}, #${lsb}, #${width}`,
      ])(),
    ];
  }

  private extract(): string[] {
    const sf = this.sf();
    const n = this.src(),
      lsb = this.rng.int(sf ? 64 : 32);
    const m = this.rng.chance(0.25) ? n : this.src(); // Rn == Rm is the ROR alias
    return [`extr ${this.r(sf, this.dst())}, ${this.r(sf, n)}, ${this.r(sf, m)}, #${lsb}`];
  }

  private condSelect(): string[] {
    const sf = this.sf(),
      d = this.r(sf, this.dst());
    if (this.rng.chance(0.25)) {
      const c = this.rng.pick(CONDS_NO_AL);
      return [
        this.rng.pick([
          () => `${this.rng.pick(['cset', 'csetm'])} ${d}, ${c}`,
          () => `${this.rng.pick(['cinc', 'cinv', 'cneg'])} ${d}, ${this.r(sf, this.src())}, ${c}`,
        ])(),
      ];
    }
    return [
      `${this.rng.pick(['csel', 'csinc', 'csinv', 'csneg'])} ${d}, ${this.r(sf, this.src())}, ${this.r(sf, this.src())}, ${this.cond()}`,
    ];
  }

  private condCompare(): string[] {
    const sf = this.sf();
    const rhs = this.rng.chance(0.5) ? `#${this.rng.int(32)}` : this.r(sf, this.src());
    return [
      `${this.rng.pick(['ccmp', 'ccmn'])} ${this.r(sf, this.src())}, ${rhs}, #${this.rng.int(16)}, ${this.cond()}`,
    ];
  }

  private multiply(): string[] {
    const sf = this.sf(),
      d = this.r(sf, this.dst()),
      n = this.r(sf, this.src()),
      m = this.r(sf, this.src());
    if (this.rng.chance(0.25)) return [`${this.rng.pick(['mul', 'mneg'])} ${d}, ${n}, ${m}`];
    return [`${this.rng.pick(['madd', 'msub'])} ${d}, ${n}, ${m}, ${this.r(sf, this.src())}`];
  }

  private multiplyLong(): string[] {
    const d = this.r(true, this.dst());
    return [
      this.rng.pick([
        () =>
          `${this.rng.pick(['smaddl', 'smsubl', 'umaddl', 'umsubl'])} ${d}, ${this.r(false, this.src())}, ${this.r(false, this.src())}, ${this.r(true, this.src())}`,
        () =>
          `${this.rng.pick(['smull', 'umull', 'smnegl', 'umnegl'])} ${d}, ${this.r(false, this.src())}, ${this.r(false, this.src())}`,
        () => `${this.rng.pick(['smulh', 'umulh'])} ${d}, ${this.r(true, this.src())}, ${this.r(true, this.src())}`,
      ])(),
    ];
  }

  /** Division; sometimes with the divisor (and dividend) forced to 0, -1 or INT_MIN first. */
  private divide(): string[] {
    const sf = this.sf(),
      op = this.rng.pick(['udiv', 'sdiv']);
    const d = this.dst(),
      n = this.src();
    const out: string[] = [];
    let m = this.src();
    if (this.rng.chance(0.35)) {
      m = this.dst(false);
      out.push(this.rng.chance(0.5) ? `movz ${this.r(sf, m)}, #0` : `movn ${this.r(sf, m)}, #0`);
      if (n !== 31 && n !== this.base && n !== m && !this.reserved.has(n) && this.rng.chance(0.5)) {
        out.push(`movz ${this.r(sf, n)}, #0x8000, lsl #${sf ? 48 : 16}`);
      }
    }
    out.push(`${op} ${this.r(sf, d)}, ${this.r(sf, n)}, ${this.r(sf, m)}`);
    return out;
  }

  private shiftVariable(): string[] {
    const sf = this.sf();
    return [
      `${this.rng.pick(['lslv', 'lsrv', 'asrv', 'rorv'])} ${this.r(sf, this.dst())}, ${this.r(sf, this.src())}, ${this.r(sf, this.src())}`,
    ];
  }

  private dataProc1(): string[] {
    const sf = this.sf();
    const op = this.rng.pick(
      sf ? ['clz', 'cls', 'rbit', 'rev', 'rev16', 'rev32'] : ['clz', 'cls', 'rbit', 'rev', 'rev16'],
    );
    return [`${op} ${this.r(sf, this.dst())}, ${this.r(sf, this.src())}`];
  }

  private pcRelative(): string[] {
    const d = this.r(true, this.dst());
    if (this.rng.chance(0.5)) return [`adr ${d}, . ${this.signed(this.rng.range(-(1 << 20), (1 << 20) - 1))}`];
    return [`adrp ${d}, . ${this.signed(this.rng.range(-(1 << 30), 1 << 30))}`];
  }

  private flagsAccess(): string[] {
    if (this.rng.chance(0.5)) return [`mrs ${this.r(true, this.dst())}, nzcv`];
    return [`msr nzcv, ${this.r(true, this.src())}`];
  }

  private signed(v: number): string {
    return v < 0 ? `- ${-v}` : `+ ${v}`;
  }

  // --- memory ---------------------------------------------------------------

  /** A multiple of `align` in [lo, hi] ∩ [OFF_MIN, OFF_MAX]. */
  private offset(align: number, lo = OFF_MIN, hi = OFF_MAX): number {
    const a = Math.ceil(Math.max(lo, OFF_MIN) / align),
      b = Math.floor(Math.min(hi, OFF_MAX) / align);
    return this.rng.range(a, b) * align;
  }

  /** A writeback amount (multiple of 16, within [lo, hi]) keeping B's interval in bounds, or null. */
  private writeback(lo: number, hi: number): number | null {
    const a = Math.ceil(Math.max(lo, BASE_LO - this.cur.lo) / 16),
      b = Math.floor(Math.min(hi, BASE_HI - this.cur.hi) / 16);
    if (a > b) return null;
    const v = this.rng.range(a, b) * 16;
    this.cur = { lo: this.cur.lo + v, hi: this.cur.hi + v };
    return v;
  }

  private static readonly SINGLE = [
    { mn: 'strb', size: 1, x: false, load: false },
    { mn: 'strh', size: 2, x: false, load: false },
    { mn: 'str', size: 4, x: false, load: false },
    { mn: 'str', size: 8, x: true, load: false },
    { mn: 'ldrb', size: 1, x: false, load: true },
    { mn: 'ldrh', size: 2, x: false, load: true },
    { mn: 'ldr', size: 4, x: false, load: true },
    { mn: 'ldr', size: 8, x: true, load: true },
    { mn: 'ldrsb', size: 1, x: false, load: true },
    { mn: 'ldrsb', size: 1, x: true, load: true },
    { mn: 'ldrsh', size: 2, x: false, load: true },
    { mn: 'ldrsh', size: 2, x: true, load: true },
    { mn: 'ldrsw', size: 4, x: true, load: true },
  ] as const;

  private singleTransfer(): string[] {
    const op = this.rng.pick(Generator.SINGLE);
    const mode = this.rng.weighted<string>([
      [4, 'uimm'],
      [2, 'unscaled'],
      [3, 'wb'],
      [3, 'reg'],
      [1, 'unpriv'],
    ]);
    const wb = mode === 'wb';
    const t = op.load ? this.dst() : wb ? this.srcNot([this.base]) : this.src();
    const rt = this.r(op.x, t),
      B = this.B;
    switch (mode) {
      case 'uimm':
        return [`${op.mn} ${rt}, [${B}, #${this.offset(op.size, 0)}]`];
      case 'unscaled':
        return [
          `${op.mn.replace(/^ldr/, 'ldur').replace(/^str/, 'stur')} ${rt}, [${B}, #${this.offset(op.size, -256, 255)}]`,
        ];
      case 'unpriv':
        return [
          `${op.mn.replace(/^ldr/, 'ldtr').replace(/^str/, 'sttr')} ${rt}, [${B}, #${this.offset(op.size, -256, 255)}]`,
        ];
      case 'wb': {
        const v = this.writeback(-256, 255);
        if (v === null) return this.recenter();
        return [this.rng.chance(0.5) ? `${op.mn} ${rt}, [${B}, #${v}]!` : `${op.mn} ${rt}, [${B}], #${v}`];
      }
      default:
        return this.registerOffset(op.mn, rt, op.size, [t]);
    }
  }

  /** `op rt, [B, index{, extend {#amount}}]` after setting the index register to a safe value. */
  private registerOffset(mn: string, rt: string, size: number, avoid: number[]): string[] {
    const shift = Math.log2(size);
    const ext = this.rng.pick(['lsl', 'uxtw', 'sxtw', 'sxtx']);
    const w = ext === 'uxtw' || ext === 'sxtw';
    if (this.rng.chance(0.08))
      return [`${mn} ${rt}, [${this.B}, ${w ? 'wzr' : 'xzr'}${ext === 'lsl' ? '' : `, ${ext}`}]`];
    const i = this.dstNot(avoid, false);
    const scaled = this.rng.chance(0.6);
    const scale = scaled ? size : 1;
    const byteOff = this.offset(size, ext === 'uxtw' ? 0 : OFF_MIN);
    const idx = byteOff / scale;
    const out: string[] = [];
    if (w) {
      // Only the low 32 bits count: put junk above them.
      out.push(idx >= 0 ? `movz w${i}, #${idx}` : `movn w${i}, #${-idx - 1}`);
      out.push(`movk x${i}, #${hex(this.rng.int(0x10000))}, lsl #${this.rng.pick([32, 48])}`);
    } else {
      out.push(idx >= 0 ? `movz x${i}, #${idx}` : `movn x${i}, #${-idx - 1}`);
    }
    const amount = scaled ? ` #${shift}` : this.rng.chance(0.5) || ext === 'lsl' ? '' : ' #0';
    const extText = ext === 'lsl' ? (scaled ? `, lsl #${shift}` : '') : `, ${ext}${amount}`;
    out.push(`${mn} ${rt}, [${this.B}, ${w ? 'w' : 'x'}${i}${extText}]`);
    return out;
  }

  private pair(): string[] {
    const op = this.rng.pick([
      { mn: 'stp', size: 8, x: true, load: false },
      { mn: 'stp', size: 4, x: false, load: false },
      { mn: 'ldp', size: 8, x: true, load: true },
      { mn: 'ldp', size: 4, x: false, load: true },
      { mn: 'ldpsw', size: 4, x: true, load: true },
      { mn: 'stnp', size: 8, x: true, load: false },
      { mn: 'ldnp', size: 4, x: false, load: true },
      { mn: 'ldnp', size: 8, x: true, load: true },
      { mn: 'stnp', size: 4, x: false, load: false },
    ] as const);
    const wb = !op.mn.endsWith('np') && this.rng.chance(0.45);
    let t1: number, t2: number;
    if (op.load) {
      t1 = this.dst();
      t2 = this.dstNot([t1]);
    } else {
      t1 = wb ? this.srcNot([this.base]) : this.src();
      t2 = wb ? this.srcNot([this.base]) : this.src();
    }
    const regs = `${this.r(op.x, t1)}, ${this.r(op.x, t2)}`;
    const range = 64 * op.size;
    if (!wb) return [`${op.mn} ${regs}, [${this.B}, #${this.offset(2 * op.size, -range, range - op.size)}]`];
    const v = this.writeback(-range, range - op.size);
    if (v === null) return this.recenter();
    return [this.rng.chance(0.5) ? `${op.mn} ${regs}, [${this.B}, #${v}]!` : `${op.mn} ${regs}, [${this.B}], #${v}`];
  }

  /** `add/sub a, B, #off`: an address register for the forms that take no offset. */
  private addressOf(a: number, align: number): string {
    const off = this.offset(align);
    return off >= 0 ? `add x${a}, ${this.B}, #${off}` : `sub x${a}, ${this.B}, #${-off}`;
  }

  /**
   * A load-exclusive and its matching store-exclusive (same address and size), a few data
   * operations apart; or a store-exclusive that must fail. Never a reservation held across
   * units, so a branch can't pair an exclusive with the wrong partner.
   */
  private exclusive(): string[] {
    const pair = this.rng.chance(0.35);
    const acq = this.rng.chance(0.4);
    const size = pair ? this.rng.pick([4, 8]) : this.rng.pick([1, 2, 4, 8]);
    const x = size === 8;
    const sfx = pair ? 'p' : size === 1 ? 'rb' : size === 2 ? 'rh' : 'r';
    const a = this.dst(false);
    const out = [this.addressOf(a, pair ? 2 * size : size)];
    this.reserved.add(a);
    const t1 = this.dst(),
      t2 = pair ? this.dstNot([t1]) : -1;
    // Failing forms: CLREX between the pair, or a lone store-exclusive (no reservation is held at
    // a unit boundary: every unit's store-exclusive ends its reservation, pass or fail).
    const failing = this.rng.weighted<'no' | 'clrex' | 'lone'>([
      [8, 'no'],
      [1, 'clrex'],
      [1, 'lone'],
    ]);
    if (failing !== 'lone')
      out.push(`ld${acq ? 'a' : ''}x${sfx} ${this.r(x, t1)}${pair ? `, ${this.r(x, t2)}` : ''}, [x${a}]`);
    if (failing === 'clrex') out.push('clrex');
    for (let k = this.rng.int(3); k > 0; k--) out.push(...this.rng.pick(this.dataOps)());
    const s = this.dstNot([], false);
    const v1 = this.srcNot([s, a]),
      v2 = pair ? this.srcNot([s, a]) : -1;
    out.push(`st${acq ? 'l' : ''}x${sfx} w${s}, ${this.r(x, v1)}${pair ? `, ${this.r(x, v2)}` : ''}, [x${a}]`);
    this.reserved.delete(a);
    return out;
  }

  private acquireRelease(): string[] {
    const size = this.rng.pick([1, 2, 4, 8]);
    const sfx = size === 1 ? 'b' : size === 2 ? 'h' : '';
    const a = this.dst(false);
    const out = [this.addressOf(a, size)];
    if (this.rng.chance(0.5)) out.push(`ldar${sfx} ${this.r(size === 8, this.dst())}, [x${a}]`);
    else out.push(`stlr${sfx} ${this.r(size === 8, this.src())}, [x${a}]`);
    return out;
  }

  /**
   * A FEAT_LSE atomic on an aligned address: LD<op>, ST<op>, SWP, CAS or CASP in any size and
   * ordering. A CAS or CASP loads its compare value from memory first half the time, so both
   * outcomes occur.
   */
  private atomic(): string[] {
    const kind = this.rng.weighted<'ld' | 'st' | 'swp' | 'cas' | 'casp'>([
      [5, 'ld'],
      [2, 'st'],
      [2, 'swp'],
      [3, 'cas'],
      [2, 'casp'],
    ]);
    const order = this.rng.pick(kind === 'st' ? ['', 'l'] : ['', 'a', 'l', 'al']);
    const size = kind === 'casp' ? this.rng.pick([4, 8]) : this.rng.pick([1, 2, 4, 8]);
    const x = size === 8;
    const sfx = kind === 'casp' || size >= 4 ? '' : size === 1 ? 'b' : 'h';
    const a = this.dst(false);
    const out = [this.addressOf(a, kind === 'casp' ? 2 * size : size)];
    this.reserved.add(a);
    const op = this.rng.pick(['add', 'clr', 'eor', 'set', 'smax', 'smin', 'umax', 'umin']);
    const match = this.rng.chance(0.5);
    switch (kind) {
      case 'ld':
      case 'swp':
        out.push(
          `${kind === 'ld' ? `ld${op}` : 'swp'}${order}${sfx} ${this.r(x, this.src())}, ${this.r(x, this.dst())}, [x${a}]`,
        );
        break;
      case 'st':
        out.push(`st${op}${order}${sfx} ${this.r(x, this.src())}, [x${a}]`);
        break;
      case 'cas': {
        const s = this.dst();
        if (match && s !== 31)
          out.push(`${size === 1 ? 'ldrb' : size === 2 ? 'ldrh' : 'ldr'} ${this.r(x, s)}, [x${a}]`);
        out.push(`cas${order}${sfx} ${this.r(x, s)}, ${this.r(x, this.src())}, [x${a}]`);
        break;
      }
      default: {
        // The pairs start at even registers; the compare pair is written (30 pairs with ZR).
        let s: number;
        do s = 2 * this.rng.int(16);
        while ([s, s + 1].some((n) => n === this.base || this.reserved.has(n)));
        const t = 2 * this.rng.int(16);
        const pair = (n: number) => `${this.r(x, n)}, ${this.r(x, n + 1)}`;
        if (match && s !== 30) out.push(`ldp ${pair(s)}, [x${a}]`);
        out.push(`casp${order} ${pair(s)}, ${pair(t)}, [x${a}]`);
      }
    }
    this.reserved.delete(a);
    return out;
  }

  private crc32(): string[] {
    const sz = this.rng.pick(['b', 'h', 'w', 'x']);
    const c = this.rng.chance(0.5) ? 'c' : '';
    return [
      `crc32${c}${sz} ${this.r(false, this.dst())}, ${this.r(false, this.src())}, ${this.r(sz === 'x', this.src())}`,
    ];
  }

  private literal(): Unit {
    const kind = this.rng.pick(['ldr x', 'ldr w', 'ldrsw x', 'prfm']);
    const line =
      kind === 'prfm' ? 'prfm pldl1keep, %L' : `${kind.slice(0, -2)} ${this.r(kind.endsWith('x'), this.dst())}, %L`;
    return { lines: [line], literal: randomValue(this.rng) };
  }

  /** Loads and stores with SP as the base register: SP is first pointed into the buffer. */
  private spBased(): string[] {
    const out = [`mov sp, ${this.B}`];
    const wb = this.rng.chance(0.4);
    const v = this.rng.range(-16, 15) * 16;
    const form = (off: number) => (wb ? (this.rng.chance(0.5) ? `[sp, #${v}]!` : `[sp], #${v}`) : `[sp, #${off}]`);
    if (this.rng.chance(0.6)) {
      const op = this.rng.pick(Generator.SINGLE);
      const rt = this.r(op.x, op.load ? this.dst() : this.src());
      const off = this.offset(op.size, 0);
      out.push(`${op.mn} ${rt}, ${form(off)}`);
    } else {
      const x = this.rng.chance(0.6),
        size = x ? 8 : 4;
      const load = this.rng.chance(0.5);
      const t1 = load ? this.dst() : this.src();
      const t2 = load ? this.dstNot([t1]) : this.src();
      out.push(
        `${load ? 'ldp' : 'stp'} ${this.r(x, t1)}, ${this.r(x, t2)}, ${form(this.offset(2 * size, -64 * size, 63 * size))}`,
      );
    }
    return out;
  }

  /** Hints and barriers, which must do nothing visible here (no PAC hints: QEMU's max CPU has PAuth). */
  private hint(): string[] {
    return [
      this.rng.pick([
        'nop',
        'yield',
        'sevl',
        'csdb',
        'isb',
        'dmb ish',
        'dmb ishld',
        'dmb sy',
        'dsb sy',
        'dsb ish',
        'bti c',
        'hint #0x41',
      ]),
    ];
  }

  private prefetch(): string[] {
    const op = this.rng.pick([
      'pldl1keep',
      'pldl2strm',
      'pldl3keep',
      'pstl1keep',
      'pstl2strm',
      'plil1keep',
      'plil3strm',
    ]);
    return [
      this.rng.pick([
        () => `prfm ${op}, [${this.B}, #${this.offset(8, 0)}]`,
        () => `prfum ${op}, [${this.B}, #${this.rng.range(-256, 255)}]`,
        // A prefetch never faults, so any index will do.
        () => `prfm ${op}, [${this.B}, x${this.src() % 31}, lsl #3]`,
      ])(),
    ];
  }

  /** Points B back at a known offset (the ADRP is part of the test too). */
  private recenter(): string[] {
    const off = this.rng.range(BASE_LO / 16, BASE_HI / 16) * 16;
    this.cur = { lo: off, hi: off };
    return [`adrp ${this.B}, scratch`, `add ${this.B}, ${this.B}, #:lo12:scratch + ${off}`];
  }

  // --- branches (forward only) -------------------------------------------------

  private branch(): Unit {
    const here = this.units.length;
    const target = Math.min(this.count, here + this.rng.range(1, 6));
    const sf = this.sf();
    const canLink = this.base !== 30;
    const kinds: [number, () => string[]][] = [
      [3, () => [`b.${this.cond()} %T`]],
      [2, () => [`${this.rng.pick(['cbz', 'cbnz'])} ${this.r(sf, this.src())}, %T`]],
      [2, () => [`${this.rng.pick(['tbz', 'tbnz'])} ${this.r(sf, this.src())}, #${this.rng.int(sf ? 64 : 32)}, %T`]],
      [0.7, () => ['b %T']],
      [canLink ? 0.5 : 0, () => ['bl %T']],
      [
        1,
        () => {
          const t = this.dst(false);
          const how = this.rng.pick(canLink ? ['br', 'blr', 'ret'] : ['br', 'ret']);
          return [`adr x${t}, %T`, how === 'ret' && t === 30 && this.rng.chance(0.5) ? 'ret' : `${how} x${t}`];
        },
      ],
    ];
    const lines = this.rng.weighted(kinds)();
    const prev = this.incoming.get(target);
    this.incoming.set(
      target,
      prev ? { lo: Math.min(prev.lo, this.cur.lo), hi: Math.max(prev.hi, this.cur.hi) } : { ...this.cur },
    );
    return { lines, target };
  }

  // --- the program ------------------------------------------------------------

  private readonly dataOps: (() => string[])[] = [
    () => this.addSubImm(),
    () => this.addSubShifted(),
    () => this.addSubExtended(),
    () => this.addSubCarry(),
    () => this.logicalImm(),
    () => this.logicalShifted(),
    () => this.moveWide(),
    () => this.bitfield(),
    () => this.extract(),
    () => this.condSelect(),
    () => this.condCompare(),
    () => this.multiply(),
    () => this.multiplyLong(),
    () => this.divide(),
    () => this.shiftVariable(),
    () => this.dataProc1(),
    () => this.crc32(),
  ];

  private unit(): Unit {
    const wrap = (f: () => string[]) => (): Unit => ({ lines: f() });
    const table: [number, () => Unit][] = [
      [6, wrap(() => this.addSubImm())],
      [6, wrap(() => this.addSubShifted())],
      [5, wrap(() => this.addSubExtended())],
      [4, wrap(() => this.addSubCarry())],
      [6, wrap(() => this.logicalImm())],
      [5, wrap(() => this.logicalShifted())],
      [4, wrap(() => this.moveWide())],
      [7, wrap(() => this.bitfield())],
      [3, wrap(() => this.extract())],
      [5, wrap(() => this.condSelect())],
      [4, wrap(() => this.condCompare())],
      [3, wrap(() => this.multiply())],
      [3, wrap(() => this.multiplyLong())],
      [3, wrap(() => this.divide())],
      [3, wrap(() => this.shiftVariable())],
      [4, wrap(() => this.dataProc1())],
      [1.5, wrap(() => this.pcRelative())],
      [1.5, wrap(() => this.flagsAccess())],
      [14, wrap(() => this.singleTransfer())],
      [5, wrap(() => this.pair())],
      [2, wrap(() => this.exclusive())],
      [1.5, wrap(() => this.acquireRelease())],
      [5, wrap(() => this.atomic())],
      [2, wrap(() => this.crc32())],
      [1.5, () => this.literal()],
      [1, wrap(() => this.prefetch())],
      [0.3, wrap(() => this.recenter())],
      [1.5, wrap(() => this.spBased())],
      [1, wrap(() => this.hint())],
      [8, () => this.branch()],
    ];
    return this.rng.weighted(table)();
  }

  generate(): Unit[] {
    while (this.units.length < this.count) {
      const join = this.incoming.get(this.units.length);
      if (join) this.cur = { lo: Math.min(join.lo, this.cur.lo), hi: Math.max(join.hi, this.cur.hi) };
      this.units.push(this.unit());
    }
    return this.units;
  }
}

/** The `index`-th program of `seed`. */
export function generateProgram(seed: number, index: number, units = 300): Program {
  const rng = new Rng(seed, index);
  const base = rng.int(31);
  const baseOffset = rng.range(BASE_LO / 16, BASE_HI / 16) * 16;
  const regs = Array.from({ length: 31 }, () => randomValue(rng));
  const sp = randomValue(rng);
  const nzcv = (rng.int(16) << 28) >>> 0;
  const fillSeed = rng.u64() | 1n;
  const count = rng.range(Math.floor(units * 0.7), units);
  return {
    seed,
    index,
    base,
    baseOffset,
    regs,
    sp,
    nzcv,
    fillSeed,
    units: new Generator(rng, base, baseOffset, count).generate(),
  };
}

// --- rendering -----------------------------------------------------------------

export interface ElfEntry {
  program: Program;
  /** The header name printed before the program's dump. */
  name: string;
  /** Only the first `cut` units (for localising a divergence); branches past the cut land on the dump. */
  cut?: number;
  /** Emit a symbol `unit_<slot>_<i>` before each unit, so a unit's encodings can be found. */
  markUnits?: boolean;
}

const movq = (reg: string, v: bigint): string[] =>
  [0, 1, 2, 3].map((k) => {
    const h = hex((v >> BigInt(16 * k)) & 0xffffn);
    return k === 0 ? `movz ${reg}, #${h}` : `movk ${reg}, #${h}, lsl #${16 * k}`;
  });

/** Dump layout in save_area: X0–X30, SP, NZCV, checksum, each 8 bytes. */
export const DUMP_FIELDS = [
  ...Array.from({ length: 31 }, (_, i) => `x${String(i).padStart(2, '0')}`),
  'sp',
  'nzcv',
  'csum',
];

function renderProgram(e: ElfEntry, slot: number, next: string): string[] {
  const p = e.program;
  const cut = e.cut ?? p.units.length;
  const out: string[] = [
    `prog_${slot}:`,
    'adrp x0, next_prog',
    'add x0, x0, :lo12:next_prog',
    `adrp x1, ${next}`,
    `add x1, x1, :lo12:${next}`,
    'str x1, [x0]',
    `adrp x0, hdr_${slot}`,
    `add x0, x0, :lo12:hdr_${slot}`,
    'bl puts',
    ...movq('x0', p.fillSeed),
    'bl fill',
    ...movq('x0', BigInt(p.nzcv)),
    'msr nzcv, x0',
    ...movq('x0', p.sp),
    'mov sp, x0',
  ];
  for (let i = 0; i < 31; i++) {
    if (i === p.base) out.push(`adrp x${i}, scratch`, `add x${i}, x${i}, #:lo12:scratch + ${p.baseOffset}`);
    else out.push(...movq(`x${i}`, p.regs[i]!));
  }
  const targets = new Set(p.units.slice(0, cut).flatMap((u) => (u.target === undefined ? [] : [u.target])));
  const label = (t: number) => `.Lb${slot}_${Math.min(t, cut)}`;
  const literals: string[] = [];
  for (let i = 0; i < cut; i++) {
    if (targets.has(i)) out.push(`${label(i)}:`);
    if (e.markUnits) out.push(`unit_${slot}_${i}:`);
    const u = p.units[i]!;
    const lit = `.Llit${slot}_${i}`;
    if (u.literal !== undefined) literals.push(`${lit}: .quad ${hex(u.literal)}`);
    out.push(
      `// unit ${i}`,
      ...u.lines.map((l) => l.replaceAll('%T', u.target === undefined ? '' : label(u.target)).replaceAll('%L', lit)),
    );
  }
  if ([...targets].some((t) => t >= cut)) out.push(`${label(cut)}:`);
  if (e.markUnits) out.push(`unit_${slot}_${cut}:`);
  out.push('msr tpidr_el2, x0', 'adrp x0, save_area', 'add x0, x0, :lo12:save_area');
  for (let i = 1; i < 31; i++) out.push(`str x${i}, [x0, #${8 * i}]`);
  out.push(
    'mrs x1, tpidr_el2',
    'str x1, [x0]',
    'mov x1, sp',
    'str x1, [x0, #248]',
    'mrs x1, nzcv',
    'str x1, [x0, #256]',
    'bl dump',
    `b ${next}`,
    '.balign 8',
    ...literals,
  );
  return out;
}

/** The runtime: vectors, console output, the buffer fill, the dump, and the semihosting exit. */
function runtime(): string[] {
  const dump: string[] = [];
  DUMP_FIELDS.forEach((name, i) => {
    if (name === 'csum') return;
    dump.push(`adr x0, .Lname${i}`, 'bl puts', `ldr x0, [x19, #${8 * i}]`, 'bl puthex');
  });
  const csum = DUMP_FIELDS.length - 1;
  const names = DUMP_FIELDS.map((n, i) => `.Lname${i}: .asciz "${i === 0 ? '' : i % 4 === 0 ? '\\n' : ' '}${n}="`);
  const vectors = Array.from({ length: 16 }, (_, i) => [
    `.balign 0x80`,
    `mov x19, #${hex(i * 0x80)}`,
    'b exc_common',
  ]).flat();
  return [
    '.arch armv8.1-a+crc',
    '.text',
    '.global _start',
    // No ISB after the VBAR write: the vectors matter only once a program has gone wrong, and the
    // runtime keeps to a small instruction set so that a gap shows in the program using it.
    '_start:',
    'adr x0, vectors',
    'msr vbar_el2, x0',
    'b prog_0',
    '// puts: prints the string at x0. Clobbers x0-x2.',
    'puts:',
    'mov x1, #0x09000000',
    '1: ldrb w2, [x0], #1',
    'cbz w2, 2f',
    'strb w2, [x1]',
    'b 1b',
    '2: ret',
    '// puthex: prints x0 as 16 hex digits. Clobbers x1-x4.',
    'puthex:',
    'mov x1, #0x09000000',
    'mov x3, #60',
    '1: lsr x2, x0, x3',
    'and x2, x2, #15',
    'cmp x2, #10',
    'add x4, x2, #48',
    'add x2, x2, #87',
    'csel x2, x4, x2, lo',
    'strb w2, [x1]',
    'subs x3, x3, #4',
    'b.ge 1b',
    'ret',
    '// fill: fills the scratch buffer from the xorshift64 seed in x0.',
    'fill:',
    'adrp x1, scratch',
    'add x1, x1, :lo12:scratch',
    `mov x2, #${SCRATCH_SIZE / 8}`,
    '1: eor x0, x0, x0, lsl #13',
    'eor x0, x0, x0, lsr #7',
    'eor x0, x0, x0, lsl #17',
    'str x0, [x1], #8',
    'subs x2, x2, #1',
    'b.ne 1b',
    'ret',
    '// dump: checksums the scratch buffer and prints save_area.',
    'dump:',
    'mov x20, x30',
    'adrp x19, save_area',
    'add x19, x19, :lo12:save_area',
    'adrp x5, scratch',
    'add x5, x5, :lo12:scratch',
    `mov x6, #${SCRATCH_SIZE / 8}`,
    'mov x7, #0',
    ...movq('x8', 0x100000001b3n),
    '1: ldr x9, [x5], #8',
    'eor x7, x7, x9',
    'ror x7, x7, #23',
    'mul x7, x7, x8',
    'subs x6, x6, #1',
    'b.ne 1b',
    `str x7, [x19, #${8 * csum}]`,
    ...dump,
    `adr x0, .Lname${csum}`,
    'bl puts',
    'mov x0, x7',
    'bl puthex',
    'adr x0, .Lnl',
    'bl puts',
    'mov x30, x20',
    'ret',
    '// An exception abandons the program: report it and go on with the next one.',
    'exc_common:',
    'adr x0, .Lexc',
    'bl puts',
    'mov x0, x19',
    'bl puthex',
    'adr x0, .Lesr',
    'bl puts',
    'mrs x0, esr_el2',
    'bl puthex',
    'adr x0, .Lelr',
    'bl puts',
    'mrs x0, elr_el2',
    'bl puthex',
    'adr x0, .Lfar',
    'bl puts',
    'mrs x0, far_el2',
    'bl puthex',
    'adr x0, .Lnl',
    'bl puts',
    'adrp x0, next_prog',
    'ldr x0, [x0, :lo12:next_prog]',
    'cbz x0, finish',
    'br x0',
    'finish:',
    'adr x0, .Ldone',
    'bl puts',
    'adrp x1, exit_block',
    'add x1, x1, :lo12:exit_block',
    'mov x0, #0x18',
    'hlt #0xf000',
    'b .',
    ...names,
    '.Lnl: .asciz "\\n"',
    '.Lexc: .asciz "!! exception vector="',
    '.Lesr: .asciz " esr="',
    '.Lelr: .asciz " elr="',
    '.Lfar: .asciz " far="',
    '.Ldone: .asciz "== done ==\\n"',
    '.balign 2048',
    'vectors:',
    ...vectors,
  ];
}

/** Assembly source for one ELF running `entries` in order, then exiting through semihosting. */
export function renderElfSource(entries: ElfEntry[]): string {
  const lines = runtime();
  entries.forEach((e, slot) => {
    lines.push('.balign 4', ...renderProgram(e, slot, slot + 1 < entries.length ? `prog_${slot + 1}` : 'finish'));
  });
  lines.push('.section .rodata', '.balign 8', 'exit_block: .quad 0x20026, 0');
  entries.forEach((e, slot) => lines.push(`hdr_${slot}: .asciz "== program ${e.name} ==\\n"`));
  lines.push(
    '.bss',
    '.balign 4096',
    'scratch: .space ' + SCRATCH_SIZE,
    '.balign 16',
    `save_area: .space ${8 * DUMP_FIELDS.length}`,
    'next_prog: .space 8',
  );
  return lines.map((l) => (l.endsWith(':') || l.startsWith('.') ? l : `\t${l}`)).join('\n') + '\n';
}

/** The program's units as text, numbered, for failure messages. */
export function listProgram(p: Program): string {
  const out = [
    `// seed ${p.seed} program ${p.index}: base x${p.base} at scratch+${p.baseOffset}, nzcv=${hex(p.nzcv)}, sp=${hex(p.sp)}`,
    `// initial: ${p.regs.map((v, i) => (i === p.base ? `x${i}=<base>` : `x${i}=${hex(v)}`)).join(' ')}`,
  ];
  p.units.forEach((u, i) => {
    const t = u.target === undefined ? '' : `.Lunit${u.target}`;
    out.push(
      `.Lunit${i}:`,
      ...u.lines.map((l) => `\t${l.replaceAll('%T', t).replaceAll('%L', `=${hex(u.literal ?? 0n)}`)}`),
    );
  });
  return out.join('\n') + '\n';
}

export { Rng };
