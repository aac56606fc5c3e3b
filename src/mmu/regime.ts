// Translation regimes and the walk parameters each stage takes from the system registers
// (AArch64.GetS1TTWParams / AArch64.GetS2TTWParams in the ARM ARM pseudocode).
import type { PeState } from '../pe/state.js';
import type { PhysBus } from '../board/bus.js';
import { SR, HCR } from '../sysregs/registry.js';

/** What translation reads of its PE: the architectural state and the physical bus its walks read. */
export interface MmuPe extends PeState {
  readonly bus: PhysBus;
}

export const enum Regime {
  EL10 = 0,
  EL2 = 1,
  EL20 = 2,
}
export const REGIME_NAMES = ['EL1&0', 'EL2', 'EL2&0'] as const;

/** The PA size this PE implements: 48 bits (ID_AA64MMFR0_EL1.PARange = 0b0101). */
export const PA_BITS = 48;

/** TranslationRegime(el) for a PE without EL3. */
export function translationRegime(cpu: MmuPe, el: number): Regime {
  if (el === 2) return cpu.e2h ? Regime.EL20 : Regime.EL2;
  if (el === 0 && cpu.e2h && cpu.tge) return Regime.EL20;
  return Regime.EL10;
}

/** The regime the TLBI …E1 and AT S1E0/S1E1 forms act on: EL2&0 in a VHE host's EL2, else EL1&0. */
export function e1Regime(cpu: MmuPe): Regime {
  return cpu.ps.el === 2 && cpu.e2h && cpu.tge ? Regime.EL20 : Regime.EL10;
}

/**
 * Stage 2 applies to the EL1&0 regime when HCR_EL2.VM (or DC) is set; under a VHE host
 * (E2H, TGE = 1, 1) both behave as 0.
 */
export function stage2Enabled(cpu: MmuPe): boolean {
  if (cpu.e2h && cpu.tge) return false;
  return (cpu.hcr & ((1 << HCR.VM) | (1 << HCR.DC))) !== 0;
}

/** Everything one stage's table walk needs, resolved from the registers. */
export interface StageParams {
  readonly stage: 1 | 2;
  readonly regime: Regime;
  /** Stage 1: SCTLR.M (and not forced off by HCR_EL2.DC/TGE); stage 2: VM or DC. */
  readonly enabled: boolean;
  /** log2 of the granule: 12, 14 or 16. */
  readonly granuleBits: number;
  /** Input address size in bits: 64 - TxSZ, TxSZ clamped to [16, 39] (no FEAT_LVA, no FEAT_TTST). */
  readonly inputSize: number;
  readonly startLevel: number;
  /** The start table's base address, aligned to the table's size. */
  readonly base: number;
  /** The base register holds bits above the output size: address size fault, level 0. */
  readonly baseOutOfRange: boolean;
  /** Output address size in bits (IPS/PS, at most PA_BITS). */
  readonly outputSize: number;
  /** Regime with EL0 and a privileged EL (EL1&0, EL2&0), as opposed to EL2's single privilege. */
  readonly twoPriv: boolean;
  readonly wxn: boolean;
  readonly mair: bigint;
  /** The ASID tagging non-global entries, -1 in regimes without ASIDs and for stage 2. */
  readonly asid: number;
  /**
   * A configuration that faults every walk at level 0 (TCR.EPDn, an out-of-range VA, a bad VTCR.SL0):
   * its FSC, else -1.
   */
  readonly configFault: number;
}

const FSC_TRANSLATION = 0x04;

/** Output-size encodings of TCR.IPS / TCR_EL2.PS / VTCR_EL2.PS, capped at the implemented PA size. */
const PS_BITS = [32, 36, 40, 42, 44, 48, 52, 52];
export function decodePS(ps: number): number {
  return Math.min(PS_BITS[ps & 7]!, PA_BITS);
}

/** TG0 encodings (TCR.TG0, VTCR.TG0): 00 4K, 01 64K, 10 16K; a reserved value is treated as 4K. */
function tg0Bits(tg: number): number {
  return tg === 1 ? 16 : tg === 2 ? 14 : 12;
}
/** TG1 encodings: 01 16K, 10 4K, 11 64K; reserved (00) is treated as 4K. */
function tg1Bits(tg: number): number {
  return tg === 1 ? 14 : tg === 3 ? 16 : 12;
}

function clampTxSZ(t: number): number {
  return t < 16 ? 16 : t > 39 ? 39 : t;
}

/** The level whose lookup resolves the top bits of a stage-1 input address. */
function s1StartLevel(inputSize: number, g: number): number {
  return 4 - Math.ceil((inputSize - g) / (g - 3));
}

/** Bits [47:lowBit] of a base register, zero below: BADDR aligned to the start table. */
function baseAddress(reg: bigint, lowBit: number): number {
  const hi = Number((reg >> 32n) & 0xffffn);
  const lo = Number(reg & 0xffff_ffffn);
  const loMasked = lowBit >= 32 ? 0 : lo - (lo % 2 ** lowBit);
  return hi * 2 ** 32 + loMasked;
}

/** log2 of the start table's size in bytes. */
function tableSizeBits(inputSize: number, g: number, startLevel: number): number {
  return 3 + inputSize - (g + (g - 3) * (3 - startLevel));
}

const MASK48 = (1n << 48n) - 1n;
const TOP55 = (1n << 56n) - 1n;
const ALL64 = (1n << 64n) - 1n;

/** The ASID of a two-range regime: TCR.A1 picks the TTBR holding it, TCR.AS its width. */
function asidOf(tcrLo: number, tcrHi: number, ttbr0: bigint, ttbr1: bigint): number {
  const a1 = ((tcrLo >>> 22) & 1) === 1;
  const as16 = ((tcrHi >>> 4) & 1) === 1; // TCR.AS, bit 36
  return Number((a1 ? ttbr1 : ttbr0) >> 48n) & (as16 ? 0xffff : 0xff);
}

/** The ASID tagging `regime`'s non-global translations (-1 for EL2, which has none). */
export function regimeAsid(cpu: MmuPe, regime: Regime): number {
  if (regime === Regime.EL2) return -1;
  const sr = cpu.sr;
  const el2 = regime !== Regime.EL10;
  const tcr = sr[el2 ? SR.TCR_EL2! : SR.TCR_EL1!]!;
  const ttbr0 = sr[el2 ? SR.TTBR0_EL2! : SR.TTBR0_EL1!]!;
  const ttbr1 = sr[el2 ? SR.TTBR1_EL2! : SR.TTBR1_EL1!]!;
  return asidOf(Number(tcr & 0xffff_ffffn), Number(tcr >> 32n), ttbr0, ttbr1);
}

/**
 * The stage-1 walk parameters for `va` in `regime`, selecting TTBR0/TTBR1 by VA bit 55
 * in the two-range regimes. Also returns the input address the walk resolves and the
 * mask of the VA bits that are not ignored (AddrTop: bit 55 and below under TBI).
 */
export function s1Params(cpu: MmuPe, regime: Regime, va: bigint): { p: StageParams; ia: number; topMask: bigint } {
  const sr = cpu.sr;
  const el2 = regime !== Regime.EL10;
  const sctlr = Number(sr[el2 ? SR.SCTLR_EL2! : SR.SCTLR_EL1!]! & 0xffff_ffffn);
  const tcr = sr[el2 ? SR.TCR_EL2! : SR.TCR_EL1!]!;
  const tcrLo = Number(tcr & 0xffff_ffffn);
  const tcrHi = Number(tcr >> 32n);
  const mair = sr[el2 ? SR.MAIR_EL2! : SR.MAIR_EL1!]!;
  let enabled = (sctlr & 1) !== 0;
  if (regime === Regime.EL10 && (cpu.hcr & ((1 << HCR.DC) | (1 << HCR.TGE))) !== 0) enabled = false;
  const wxn = ((sctlr >>> 19) & 1) === 1;

  let upper: boolean,
    tbi: boolean,
    txsz: number,
    g: number,
    epd: boolean,
    outputSize: number,
    ttbr: bigint,
    asid = -1;
  if (regime === Regime.EL2) {
    upper = false;
    tbi = ((tcrLo >>> 20) & 1) === 1;
    txsz = tcrLo & 0x3f;
    g = tg0Bits((tcrLo >>> 14) & 3);
    epd = false;
    outputSize = decodePS((tcrLo >>> 16) & 7);
    ttbr = sr[SR.TTBR0_EL2!]!;
  } else {
    upper = ((va >> 55n) & 1n) === 1n;
    tbi = ((tcrHi >>> (upper ? 6 : 5)) & 1) === 1; // TBI1 bit 38, TBI0 bit 37
    txsz = upper ? (tcrLo >>> 16) & 0x3f : tcrLo & 0x3f;
    g = upper ? tg1Bits((tcrLo >>> 30) & 3) : tg0Bits((tcrLo >>> 14) & 3);
    epd = ((tcrLo >>> (upper ? 23 : 7)) & 1) === 1;
    outputSize = decodePS(tcrHi & 7); // IPS, bits [34:32]
    const ttbr0 = sr[el2 ? SR.TTBR0_EL2! : SR.TTBR0_EL1!]!;
    const ttbr1 = sr[el2 ? SR.TTBR1_EL2! : SR.TTBR1_EL1!]!;
    ttbr = upper ? ttbr1 : ttbr0;
    asid = asidOf(tcrLo, tcrHi, ttbr0, ttbr1);
  }
  const inputSize = 64 - clampTxSZ(txsz);
  const startLevel = s1StartLevel(inputSize, g);

  // AArch64.VAIsOutOfRange: bits [top:inputSize] must all equal the range's selector.
  const top = tbi ? 55 : 63;
  const fieldMask = ((1n << BigInt(top + 1)) - 1n) & ~((1n << BigInt(inputSize)) - 1n);
  const field = va & fieldMask;
  const outOfRange = upper ? field !== fieldMask : field !== 0n;
  const configFault = enabled && (outOfRange || epd) ? FSC_TRANSLATION : -1;

  const base = baseAddress(ttbr, Math.max(tableSizeBits(inputSize, g, startLevel), 1));
  const baseOutOfRange = outputSize < 48 && (ttbr & MASK48) >> BigInt(outputSize) !== 0n;
  const ia = Number(va & ((1n << BigInt(inputSize)) - 1n));
  return {
    p: {
      stage: 1,
      regime,
      enabled,
      granuleBits: g,
      inputSize,
      startLevel,
      base,
      baseOutOfRange,
      outputSize,
      twoPriv: regime !== Regime.EL2,
      wxn,
      mair,
      asid,
      configFault,
    },
    ia,
    topMask: tbi ? TOP55 : ALL64,
  };
}

/**
 * AArch64.S2InvalidSL / AArch64.S2InconsistentSL: the start level from VTCR_EL2.SL0 and
 * TG0, or -1 when SL0 is reserved or cannot resolve an input of `inputSize` bits (with
 * up to 16 concatenated start tables).
 */
export function s2StartLevel(sl0: number, g: number, inputSize: number): number {
  if (sl0 === 3) return -1; // level 3 start for 4K needs FEAT_TTST; reserved for 16K/64K
  const start = g === 12 ? 2 - sl0 : 3 - sl0;
  const stride = g - 3;
  const minSize = (3 - start) * stride + g + 1;
  const maxSize = minSize + (stride - 1) + 4;
  return inputSize < minSize || inputSize > maxSize ? -1 : start;
}

/** The stage-2 walk parameters (VTCR_EL2, VTTBR_EL2). */
export function s2Params(cpu: MmuPe): StageParams {
  const sr = cpu.sr;
  const vtcr = Number(sr[SR.VTCR_EL2!]! & 0xffff_ffffn);
  const vttbr = sr[SR.VTTBR_EL2!]!;
  const g = tg0Bits((vtcr >>> 14) & 3);
  const inputSize = 64 - clampTxSZ(vtcr & 0x3f);
  const outputSize = decodePS((vtcr >>> 16) & 7);
  const start = s2StartLevel((vtcr >>> 6) & 3, g, inputSize);
  const startLevel = start < 0 ? 0 : start;
  return {
    stage: 2,
    regime: Regime.EL10,
    enabled: stage2Enabled(cpu),
    granuleBits: g,
    inputSize,
    startLevel,
    base: baseAddress(vttbr, Math.max(tableSizeBits(inputSize, g, startLevel), 1)),
    baseOutOfRange: outputSize < 48 && (vttbr & MASK48) >> BigInt(outputSize) !== 0n,
    outputSize,
    twoPriv: false,
    wxn: false,
    mair: 0n,
    asid: -1,
    configFault: start < 0 ? FSC_TRANSLATION : -1,
  };
}

/** VTTBR_EL2.VMID (8 bits: ID_AA64MMFR1_EL1.VMIDBits = 0). */
export function currentVmid(cpu: MmuPe): number {
  return Number((cpu.sr[SR.VTTBR_EL2!]! >> 48n) & 0xffn);
}
