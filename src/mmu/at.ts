// The AT (address translate) instructions: a translation without taking the fault,
// reported in PAR_EL1 (AArch64.AT_S1 / AArch64.AT_S12 and the PAR_EL1 formats).
import type { MmuOwner } from './mmu.js';
import { ISS_CM } from './mmu.js';
import { Regime, translationRegime, e1Regime, stage2Enabled } from './regime.js';
import { AccessType, Translator, Stage2Use, PERM_SHIFT_EL0, PERM_SHIFT_PRIV, type Translation } from './walk.js';

/** Which AT: the regime's EL as named by the instruction, stages, and the access checked. */
export interface AtOp {
  readonly name: string;
  /** 'E0'/'E1': the EL1&0 regime (EL2&0 in a VHE host); 'E2': EL2 or EL2&0 by HCR_EL2.E2H. */
  readonly el: 'E0' | 'E1' | 'E2';
  /** AT S12E*: stage 1 then stage 2 (when enabled). */
  readonly stage12: boolean;
  readonly write: boolean;
}

/** PAR_EL1 bits common to both formats: bit 11 is RES1. */
const PAR_RES1 = 1n << 11n;

/** Inner/outer cacheability classes, weakest first: Non-cacheable, Write-Through, Write-Back. */
function s1Class(nibble: number): number {
  if (nibble === 0b0100) return 0;
  const top = nibble >>> 2;
  return top === 1 || top === 3 ? 2 : 1; // 01RW/11RW Write-Back, 00RW/10RW Write-Through
}

/**
 * Stage-1 MAIR attribute combined with stage-2 MemAttr[3:0] (HCR_EL2.FWB = 0): Device
 * wins, the stronger Device type wins, and Normal takes the weaker cacheability of each.
 * Returns the PAR_EL1.ATTR byte.
 */
export function combineS1S2Attr(s1: number, s2: number): number {
  const s1Device = s1 >>> 4 === 0;
  const s2Device = s2 >>> 2 === 0;
  if (s1Device || s2Device) {
    const t1 = s1Device ? (s1 >>> 2) & 3 : 3;
    const t2 = s2Device ? s2 & 3 : 3;
    return Math.min(t1, t2) << 2;
  }
  const part = (n1: number, s2c: number): number => {
    const c = Math.min(s1Class(n1), s2c - 1); // S2 encoding: 1 NC, 2 WT, 3 WB
    if (c === s1Class(n1)) return n1;
    return c === 0 ? 0b0100 : 0b1000 | (n1 & 3);
  };
  return (part(s1 >>> 4, (s2 >>> 2) & 3) << 4) | part(s1 & 0xf, s2 & 3);
}

/** The PAR_EL1 value for a completed translation: PA, SH and ATTR (F = 0). */
export function parSuccess(t: Translation, type: AccessType): bigint {
  let attr: number;
  let sh: number;
  if (t.s1 !== null) {
    attr = t.s1.memAttr;
    sh = t.s1.sh;
  } else {
    // Stage 1 off: data is Device-nGnRnE, instruction fetches Normal.
    attr = type === AccessType.Fetch ? 0xff : 0x00;
    sh = 0;
  }
  if (t.s2 !== null) {
    attr = combineS1S2Attr(attr, t.s2.memAttr);
    const more = (a: number, b: number): number =>
      a === 0b10 || b === 0b10 ? 0b10 : a === 0b11 || b === 0b11 ? 0b11 : 0;
    sh = more(sh, t.s2.sh);
  }
  // SH is the descriptor's (as QEMU reports it); the ARM ARM also permits the effective
  // value, Outer Shareable for Device and Normal Non-cacheable memory.
  const pa = BigInt(t.pa) & 0xffff_ffff_f000n;
  return (BigInt(attr) << 56n) | pa | PAR_RES1 | (1n << 9n) /* NS: a Non-secure PE */ | (BigInt(sh) << 7n);
}

/** PAR_EL1 fault format: F, FST, PTW (stage-2 fault on a stage-1 walk), S (stage 2). */
export function parFault(fsc: number, stage: 1 | 2, s1ptw: boolean): bigint {
  return 1n | (BigInt(fsc) << 1n) | (s1ptw ? 1n << 8n : 0n) | (stage === 2 ? 1n << 9n : 0n) | PAR_RES1;
}

/**
 * Executes an AT instruction at the current EL (the caller has done the EL checks).
 * Returns the PAR_EL1 value, or the exception to take: a stage-2 fault on a stage-1
 * table walk during an AT S1E0 or S1E1 from EL1 is taken to EL2 (ISS.CM = 1), not reported.
 */
export function addressTranslate(cpu: MmuOwner, op: AtOp, va: bigint): bigint {
  const regime = op.el === 'E2' ? translationRegime(cpu, 2) : e1Regime(cpu);
  const s2 = regime === Regime.EL10 && stage2Enabled(cpu);
  const use = !s2 ? Stage2Use.None : op.stage12 ? Stage2Use.Full : Stage2Use.WalksOnly;
  const type = op.write ? AccessType.Write : AccessType.Read;
  // AT S1E1R/W ignore PSTATE.PAN (only the FEAT_PAN2 S1E1RP/WP forms check it).
  const permShift = op.el === 'E0' ? PERM_SHIFT_EL0 : PERM_SHIFT_PRIV;
  const t = new Translator(cpu, false).translate(regime, va, { type, permShift, check: true }, use);
  const f = t.fault;
  if (f === null) return parSuccess(t, type);
  if (f.stage === 2 && f.s1ptw && !op.stage12 && cpu.ps.el === 1) {
    throw cpu.mmu.faultException(f, va, AccessType.Read, 0, ISS_CM);
  }
  return parFault(f.fsc, f.stage, f.s1ptw);
}
