// The translation-table walker: one walk for every regime and both stages
// (AArch64.S1Walk and AArch64.S2Walk share it), the permission model of each stage, and
// AArch64.FullTranslate (stage 1, the stage-2 walks of stage-1 table fetches, stage 2).
// It never raises exceptions and never touches the TLB: callers turn a fault into an
// abort (Mmu), a PAR_EL1 value (AT) or a report (the debugger).
import { BusError } from '../board/bus.js';
import { type StageParams, type Regime, type MmuPe, PA_BITS, s1Params, s2Params } from './regime.js';

/** Access kinds, in the order of their permission bits. */
export const enum AccessType {
  Read = 0,
  Write = 1,
  Fetch = 2,
}

/** Fault status codes (DFSC/IFSC) without the level. */
export const FSC = {
  ADDRESS_SIZE: 0x00,
  TRANSLATION: 0x04,
  ACCESS_FLAG: 0x08,
  PERMISSION: 0x0c,
  SYNC_EXTERNAL: 0x10,
  SYNC_EXTERNAL_WALK: 0x14,
  ALIGNMENT: 0x21,
} as const;

/**
 * Permissions as a 9-bit mask, three r/w/x triples: bits 0–2 unprivileged (EL0),
 * 3–5 privileged, 6–8 privileged while PSTATE.PAN is set. An access of type `t` made
 * with privilege shift `s` (0, 3 or 6) is allowed when bit `s + t` is set.
 */
export const PERM_ALL = 0x1ff;
export const PERM_SHIFT_EL0 = 0;
export const PERM_SHIFT_PRIV = 3;
export const PERM_SHIFT_PAN = 6;

/** One descriptor read by a walk, for the debugger. */
export interface WalkLevel {
  /** 1 for the stage-1 walk, 2 for stage 2 (including the stage-2 walks of stage-1 table fetches). */
  readonly stage: 1 | 2;
  readonly level: number;
  /** Base of the table this descriptor was read from: an IPA for stage-1 tables under stage 2, else a PA. */
  readonly tableAddress: number;
  /** The descriptor's own address (same address space as tableAddress). */
  readonly descriptorAddress: number;
  /** The PA the descriptor was read from (differs from descriptorAddress under stage 2). */
  readonly descriptorPA: number;
  readonly descriptor: bigint;
  readonly kind: 'table' | 'block' | 'page' | 'invalid';
  /** True for a stage-2 walk done to fetch a stage-1 descriptor (S1PTW). */
  readonly forS1Walk: boolean;
}

/** What a leaf descriptor says, per stage. */
export interface LeafInfo {
  readonly level: number;
  readonly descriptor: bigint;
  /** log2 of the block or page size the descriptor maps. */
  readonly sizeBits: number;
  /** Stage 1: the MAIR_ELx byte selected by AttrIndx; stage 2: MemAttr[3:0]. */
  readonly memAttr: number;
  readonly attrIndx: number;
  /** SH[1:0] as in the descriptor. */
  readonly sh: number;
  readonly nG: boolean;
  /** The Contiguous hint: recorded, not used (every TLB entry covers one 4 KiB page). */
  readonly contiguous: boolean;
  /** This stage's permissions as a PERM mask. */
  readonly perms: number;
}

export interface TranslationFault {
  /** DFSC/IFSC, level included. */
  readonly fsc: number;
  readonly level: number;
  readonly stage: 1 | 2;
  /** A stage-2 fault on the walk of a stage-1 table (ESR.S1PTW). */
  readonly s1ptw: boolean;
  /** For stage-2 faults: the IPA that faulted (HPFAR_EL2), else -1. */
  readonly ipa: number;
}

export interface Translation {
  /** The fault, or null. A permission fault still carries the addresses it resolved. */
  fault: TranslationFault | null;
  /** Output of stage 1 (the IPA, or the PA when there is no stage 2), -1 if not reached. */
  ipa: number;
  /** The physical address, -1 if not reached. */
  pa: number;
  /** Both stages' permissions combined (PERM mask). */
  perms: number;
  s1: LeafInfo | null;
  s2: LeafInfo | null;
  /** Stage-1 nG = 0 (or no stage-1 ASIDs): valid for every ASID. */
  global: boolean;
  /** log2 of the stage-1 leaf size (12 with stage 1 off): what a TLBI by VA must cover. */
  sizeBits: number;
}

/** A Translation that has reached nothing yet: the walks fill it in. */
function untranslated(): Translation {
  return { fault: null, ipa: -1, pa: -1, perms: 0, s1: null, s2: null, global: true, sizeBits: 12 };
}

/** How stage 2 takes part in a translation. */
export const enum Stage2Use {
  None = 0,
  WalksOnly = 1,
  Full = 2,
}

/** An access as the permission checks see it. */
export interface AccessDesc {
  type: AccessType;
  /** Privilege shift of the access: PERM_SHIFT_EL0 / _PRIV / _PAN. */
  permShift: number;
  /** Check permissions at all (AT and the debugger may only want the mapping). */
  check: boolean;
}

/** Stage-1 permissions (AArch64.S1DirectBasePermissions without FEAT_PAN3/HPDS/PIE). */
function s1Perms(p: StageParams, lo: number, hi: number, apTable: number, uxnTable: number, pxnTable: number): number {
  const ap2 = (lo >>> 7) & 1;
  const ap1 = (lo >>> 6) & 1;
  const xn = (hi >>> 22) & 1; // UXN / XN, bit 54
  if (!p.twoPriv) {
    const w = ap2 === 0 && (apTable & 2) === 0 ? 1 : 0;
    let x = xn | uxnTable ? 0 : 1;
    if (p.wxn && w) x = 0;
    const t = 1 | (w << 1) | (x << 2);
    return (t << PERM_SHIFT_PRIV) | (t << PERM_SHIFT_PAN);
  }
  const pxn = (hi >>> 21) & 1; // bit 53
  let pw = ap2 ^ 1;
  let ur = ap1;
  let uw = ap1 & (ap2 ^ 1);
  if (apTable & 1) {
    ur = 0;
    uw = 0;
  }
  if (apTable & 2) {
    pw = 0;
    uw = 0;
  }
  // Locations writable at EL0 are never executable at the privileged level.
  let px = pxn | pxnTable | uw ? 0 : 1;
  let ux = xn | uxnTable ? 0 : 1;
  if (p.wxn) {
    if (pw) px = 0;
    if (uw) ux = 0;
  }
  const priv = 1 | (pw << 1) | (px << 2);
  // PAN: privileged data accesses to EL0-readable locations fail.
  const pan = ur ? px << 2 : priv;
  return ur | (uw << 1) | (ux << 2) | (priv << PERM_SHIFT_PRIV) | (pan << PERM_SHIFT_PAN);
}

/** Stage-2 permissions: S2AP[1:0] (bit 6 read, bit 7 write) and XN (bit 54), the same for EL0 and EL1. */
function s2Perms(lo: number, hi: number): number {
  const r = (lo >>> 6) & 1;
  const w = (lo >>> 7) & 1;
  const x = ((hi >>> 22) & 1) ^ 1;
  return (r | (w << 1) | (x << 2)) * 0b001001001;
}

/** HCR_EL2.PTW, bit 2: protected table walk. */
const HCR_PTW = 1 << 2;
const PA_MASK = (1n << BigInt(PA_BITS)) - 1n;

/** Whether a block descriptor is allowed at `level` for this granule (48-bit OA, no FEAT_LPA). */
function blockAllowed(g: number, level: number): boolean {
  return level === 2 || (g === 12 && level === 1);
}

/** A successful walk's leaf, before the permission check. */
interface Leaf {
  level: number;
  lo: number;
  hi: number;
  oa: number;
  sizeBits: number;
  perms: number;
}

export class Translator {
  /** The descriptor read by readDesc. */
  private lo = 0;
  private hi = 0;
  private s2: StageParams | null = null;
  /** The last leaf a walk reached (to report where a permission fault led). */
  private lastLeaf: Leaf | null = null;

  /**
   * @param sideEffectFree read tables from RAM only (the debugger): a table outside RAM
   *        reads as an external abort instead of touching a device.
   * @param record where to append each descriptor read, or null.
   */
  constructor(
    private readonly cpu: MmuPe,
    private readonly sideEffectFree: boolean,
    public record: WalkLevel[] | null = null,
  ) {}

  /** Reads the 64-bit descriptor at `pa` into lo/hi; false on an external abort. */
  private readDesc(pa: number): boolean {
    const bus = this.cpu.bus;
    const off = pa - bus.ramBase;
    if (off >= 0 && off + 8 <= bus.ramSize) {
      this.lo = bus.ramView.getUint32(off, true);
      this.hi = bus.ramView.getUint32(off + 4, true);
      return true;
    }
    if (this.sideEffectFree) return false;
    try {
      const v = bus.read(pa, 8);
      this.lo = Number(v & 0xffff_ffffn);
      this.hi = Number(v >> 32n);
      return true;
    } catch (e) {
      if (e instanceof BusError) return false;
      throw e;
    }
  }

  private fault(fsc: number, level: number, stage: 1 | 2, s1ptw: boolean, ipa: number): TranslationFault {
    return { fsc: fsc | (fsc < 0x10 || fsc === FSC.SYNC_EXTERNAL_WALK ? level : 0), level, stage, s1ptw, ipa };
  }

  /**
   * The table walk of one stage (AArch64.S1Walk / AArch64.S2Walk): resolves `ia` from the
   * start table to a leaf, checking descriptor validity, output address size and the
   * access flag. Stage-1 table fetches go through stage 2 when it is enabled.
   */
  private walk(p: StageParams, ia: number, forS1Walk: boolean, faultIpa: number): Leaf | TranslationFault {
    const stage = p.stage;
    if (p.configFault >= 0) return this.fault(p.configFault, 0, stage, forS1Walk, faultIpa);
    if (p.baseOutOfRange) return this.fault(FSC.ADDRESS_SIZE, 0, stage, forS1Walk, faultIpa);
    const g = p.granuleBits;
    const stride = g - 3;
    const outLimit = 2 ** p.outputSize;
    let level = p.startLevel;
    let table = p.base;
    let apTable = 0,
      uxnTable = 0,
      pxnTable = 0;
    for (;;) {
      const shift = g + stride * (3 - level);
      const bits = level === p.startLevel ? p.inputSize - shift : stride;
      const index = Math.floor(ia / 2 ** shift) % 2 ** bits;
      const descAddr = table + index * 8;
      let descPA = descAddr;
      if (stage === 1 && this.s2 !== null) {
        // AArch64.S2Translate of the descriptor fetch: a stage-2 fault here is reported with S1PTW.
        const r = this.stage2(descAddr, AccessType.Read, true);
        if ('fsc' in r) return r;
        descPA = r.oa;
      }
      if (!this.readDesc(descPA)) {
        return this.fault(FSC.SYNC_EXTERNAL_WALK, level, forS1Walk ? 2 : stage, forS1Walk, faultIpa);
      }
      const lo = this.lo >>> 0,
        hi = this.hi >>> 0;
      const valid = (lo & 1) === 1;
      const isTable = valid && (lo & 2) !== 0 && level < 3;
      const isLeaf = valid && (level === 3 ? (lo & 2) !== 0 : (lo & 2) === 0 && blockAllowed(g, level));
      if (this.record !== null) {
        this.record.push({
          stage: forS1Walk ? 2 : stage,
          level,
          tableAddress: table,
          descriptorAddress: descAddr,
          descriptorPA: descPA,
          descriptor: (BigInt(hi) << 32n) | BigInt(lo),
          kind: isTable ? 'table' : isLeaf ? (level === 3 ? 'page' : 'block') : 'invalid',
          forS1Walk,
        });
      }
      if (!isTable && !isLeaf) return this.fault(FSC.TRANSLATION, level, stage, forS1Walk, faultIpa);
      const addrHi = (hi & 0xffff) * 2 ** 32;
      if (isTable) {
        const next = addrHi + (lo - (lo % 2 ** g));
        if (next >= outLimit) return this.fault(FSC.ADDRESS_SIZE, level, stage, forS1Walk, faultIpa);
        if (stage === 1) {
          apTable |= (hi >>> 29) & 3; // APTable, bits [62:61]
          uxnTable |= (hi >>> 28) & 1; // UXNTable/XNTable, bit 60
          pxnTable |= (hi >>> 27) & 1; // PXNTable, bit 59
        }
        table = next;
        level++;
        continue;
      }
      const oaBase = addrHi + (lo - (lo % 2 ** shift));
      if (oaBase >= outLimit) return this.fault(FSC.ADDRESS_SIZE, level, stage, forS1Walk, faultIpa);
      // No hardware Access flag management (FEAT_HAFDBS is not implemented).
      if ((lo & 0x400) === 0) return this.fault(FSC.ACCESS_FLAG, level, stage, forS1Walk, faultIpa);
      const perms = stage === 1 ? s1Perms(p, lo, hi, apTable, uxnTable, pxnTable) : s2Perms(lo, hi);
      return (this.lastLeaf = { level, lo, hi, oa: oaBase + (ia % 2 ** shift), sizeBits: shift, perms });
    }
  }

  /** AArch64.S2Translate of `ipa` for an access of `type` (a stage-1 table fetch when `s1ptw`). */
  private stage2(ipa: number, type: AccessType, s1ptw: boolean): Leaf | TranslationFault {
    const p = this.s2!;
    // AArch64.IPAIsOutOfRange: a stage-2 translation fault at level 0.
    if (ipa >= 2 ** p.inputSize) return this.fault(FSC.TRANSLATION, 0, 2, s1ptw, ipa);
    const r = this.walk(p, ipa, s1ptw, ipa);
    if ('fsc' in r) return r;
    const fail = (r.perms >>> type) & 1 ? 0 : 1;
    // HCR_EL2.PTW: a stage-1 table in stage-2 Device memory is a stage-2 permission fault.
    const ptwDevice = s1ptw && (this.cpu.hcr & HCR_PTW) !== 0 && ((r.lo >>> 4) & 3) === 0;
    if (fail || ptwDevice) return this.fault(FSC.PERMISSION, r.level, 2, s1ptw, ipa);
    return r;
  }

  /**
   * AArch64.FullTranslate: stage 1 of `regime` for `va`, then stage 2 when `stage2` is
   * Full (the caller decides it is enabled: EL1&0 regime, HCR_EL2.VM). WalksOnly runs
   * the stage-1 table fetches through stage 2 but stops at the IPA (AT S1E1*, S1E0*).
   * Permission faults are only reported when `acc.check`.
   */
  translate(regime: Regime, va: bigint, acc: AccessDesc, stage2: Stage2Use): Translation {
    const cpu = this.cpu;
    const { p, ia, topMask } = s1Params(cpu, regime, va);
    this.s2 = stage2 !== Stage2Use.None ? s2Params(cpu) : null;
    const out = untranslated();
    let perms = PERM_ALL;
    if (!p.enabled) {
      // AArch64.TranslateAddressS1Off: a flat mapping; VA bits [top:PAMax] must be zero.
      if ((va & topMask & ~PA_MASK) !== 0n) {
        out.fault = this.fault(FSC.ADDRESS_SIZE, 0, 1, false, -1);
        return out;
      }
      out.ipa = Number(va & PA_MASK);
    } else {
      const leaf = this.walk(p, ia, false, -1);
      if ('fsc' in leaf) {
        out.fault = leaf;
        return out;
      }
      out.ipa = leaf.oa;
      perms = leaf.perms;
      const attrIndx = (leaf.lo >>> 2) & 7;
      const nG = ((leaf.lo >>> 11) & 1) === 1 && p.asid >= 0;
      out.global = !nG;
      out.sizeBits = leaf.sizeBits;
      out.s1 = {
        level: leaf.level,
        descriptor: (BigInt(leaf.hi) << 32n) | BigInt(leaf.lo),
        sizeBits: leaf.sizeBits,
        memAttr: Number((p.mair >> BigInt(8 * attrIndx)) & 0xffn),
        attrIndx,
        sh: (leaf.lo >>> 8) & 3,
        nG,
        contiguous: ((leaf.hi >>> 20) & 1) === 1,
        perms,
      };
      if (acc.check && ((perms >>> (acc.permShift + acc.type)) & 1) === 0) {
        const f = this.fault(FSC.PERMISSION, leaf.level, 1, false, -1);
        out.perms = perms;
        if (this.s2 === null || stage2 === Stage2Use.WalksOnly) out.pa = out.ipa;
        // Still say where the mapping leads (the debugger writes breakpoints into read-only code).
        else this.finishStage2(out, perms, AccessType.Read);
        out.fault = f;
        return out;
      }
    }
    if (this.s2 === null || stage2 === Stage2Use.WalksOnly) {
      out.pa = out.ipa;
      out.perms = perms;
      return out;
    }
    this.finishStage2(out, perms, acc.check ? acc.type : AccessType.Read);
    return out;
  }

  /** Stage 2 of `out.ipa`, filling pa, perms, s2 (also for a permission fault: the mapping is intact). */
  private finishStage2(out: Translation, s1perms: number, type: AccessType): void {
    this.lastLeaf = null;
    const r = this.stage2(out.ipa, type, false);
    const leaf2 = 'fsc' in r ? ((r.fsc & 0x3c) === FSC.PERMISSION ? this.lastLeaf : null) : r;
    if ('fsc' in r) out.fault = r;
    if (leaf2 === null) return;
    out.pa = leaf2.oa;
    out.perms = s1perms & leaf2.perms;
    out.s2 = {
      level: leaf2.level,
      descriptor: (BigInt(leaf2.hi) << 32n) | BigInt(leaf2.lo),
      sizeBits: leaf2.sizeBits,
      memAttr: (leaf2.lo >>> 2) & 0xf,
      attrIndx: 0,
      sh: (leaf2.lo >>> 8) & 3,
      nG: false,
      contiguous: ((leaf2.hi >>> 20) & 1) === 1,
      perms: leaf2.perms,
    };
  }

  /** Stage 2 alone, for an IPA (the debugger's 'ipa' regime). */
  translateStage2(ipa: bigint, acc: AccessDesc): Translation {
    this.s2 = s2Params(this.cpu);
    const out = untranslated();
    if (ipa >= 1n << BigInt(PA_BITS)) {
      out.fault = this.fault(FSC.TRANSLATION, 0, 2, false, -1);
      return out;
    }
    out.ipa = Number(ipa);
    this.finishStage2(out, PERM_ALL, acc.check ? acc.type : AccessType.Read);
    return out;
  }
}
