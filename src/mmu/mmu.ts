// Address translation as the CPU sees it: a software TLB in front of the walker
// (./walk.ts), the aborts a failed translation raises, TLB maintenance, and top-byte-ignore
// for branch targets.
//
// The TLB is direct-mapped, split like a CPU's into a data half and an instruction-fetch
// half (so that a loop's code page and the data it walks never evict each other), each of
// TLB_SIZE entries indexed by VA bits [23:12] XOR a hash of the translation context (so
// that a guest and its host don't evict each other either). An entry holds
// the VA page as two int32 tags (VA[31:12], VA[63:32]), a translation context id, the
// PA of the page (a number: PAs are 48 bits) and the permissions of every privilege
// (walk.ts PERM mask). A hit stores the VA into a BigUint64Array and reads it back as two
// int32 halves, then does four integer compares: no BigInt arithmetic, no allocation.
// Measured on Node 20 (test/mmu/tlb-lookup-bench.mjs, VAs computed with BigInt.asUintN
// as the load/store code produces them): 3 to 5 times the lookups per second of
// Number(BigInt.asUintN(32, va)) / Number(va >> 32n), and more against a BigUint64Array
// tag compare (30-110 M/s against 7-20 M/s, depending on the load of the machine).
//
// A translation context is everything an entry's validity depends on besides the VA:
// regime, VMID, ASID (or "global" for nG=0 entries), the TTBRs, TCR, SCTLR.{M,WXN},
// VTCR/VTTBR and the HCR_EL2 bits that select the regime. Contexts get small integer ids
// from a Map that is consulted only when the context changes, never per access: writing
// a translation register or taking an exception just marks the current id stale. So a
// world switch that restores a guest's registers finds the guest's old entries again
// (they are tagged with its VMID and ASID, as on hardware). TLBI by ASID/VMID/regime
// retires the matching contexts (their ids are never matched again); TLBI by VA scans
// the entries.
//
// Deviations, all permitted by the architecture: the Contiguous hint is ignored; a
// TTBR/TCR/SCTLR change takes effect without TLBI (entries made under the old value
// belong to another context); IPAS2E1* invalidates every entry of the VMID (entries
// combine both stages, so the IPA is not kept).
import { ArchException, EC, defaultTargetEL } from '../pe/exception.js';
import { SR, SYSREGS, specOf, type SysregSpec } from '../sysregs/registry.js';
import { Regime, type MmuPe, translationRegime, e1Regime, stage2Enabled, currentVmid, s1Params } from './regime.js';
import {
  AccessType,
  Translator,
  Stage2Use,
  PERM_SHIFT_EL0,
  PERM_SHIFT_PRIV,
  PERM_SHIFT_PAN,
  type TranslationFault,
  type Translation,
} from './walk.js';

export { AccessType, FSC } from './walk.js';
export { PA_BITS } from './regime.js';

const TLB_BITS = 12;
const TLB_SIZE = 1 << TLB_BITS;
const TLB_MASK = TLB_SIZE - 1;
/** Both halves: data entries at [0, TLB_SIZE), instruction-fetch entries above. */
const TLB_ENTRIES = 2 * TLB_SIZE;
/** When this many contexts are live, start over (a runaway of distinct TTBR values). */
const MAX_CONTEXTS = 4096;
/** ISS[24:14] of a data abort: ISV, SAS, SSE, SRT, SF, AR — what the load/store passes as `syndrome`. */
const ISS_INSN_SYNDROME = 0x01ff_c000;
/** ISS.CM, bit 8: the abort came from a cache maintenance or address translation instruction. */
export const ISS_CM = 1 << 8;

/** HCR_EL2 bits that select the regime or change walks: VM, PTW, DC, TGE (E2H is kept apart). */
const HCR_CONTEXT_BITS = 0x0800_1005;

/** What refreshContext computed for one EL, valid while `epoch` and the HCR bits hold. */
interface ElContext {
  epoch: number;
  hcr: number;
  e2h: boolean;
  regime: Regime;
  s2on: boolean;
  privShift: number;
  unprivShift: number;
  panApplies: boolean;
  ctx: number;
  gctx: number;
  salt: number;
}

interface Context {
  readonly id: number;
  readonly regime: Regime;
  readonly vmid: number;
  /** -1 for the context of global entries. */
  readonly asid: number;
  readonly key: string;
}

/** One cached translation (Mmu.tlbEntries). */
export interface TlbEntry {
  /** The 4 KiB VA page (tag bits included). */
  readonly va: bigint;
  readonly pa: number;
  readonly regime: Regime;
  /** VMID for EL1&0 entries, else null. */
  readonly vmid: number | null;
  /** ASID of a non-global entry, null for global ones and regimes without ASIDs. */
  readonly asid: number | null;
  /** PERM mask (walk.ts): r/w/x for EL0, privileged, privileged under PAN. */
  readonly perms: number;
  /** From the instruction-fetch half. */
  readonly fetch: boolean;
  /** Usable in the current context (regime, ASID, VMID and registers as they are now). */
  readonly current: boolean;
}

/** Registers whose writes change the translation context, by SysregSpec.id: one array load per MSR. */
const CONTEXT_REG = new Uint8Array(SYSREGS.length);
for (const name of [
  'SCTLR_EL1',
  'SCTLR_EL2',
  'TCR_EL1',
  'TCR_EL2',
  'TTBR0_EL1',
  'TTBR1_EL1',
  'TTBR0_EL2',
  'TTBR1_EL2',
  'VTCR_EL2',
  'VTTBR_EL2',
])
  CONTEXT_REG[specOf(name).id] = 1;

/** A PE with its MMU: what address translation instructions and the debugger's views use. */
export interface MmuOwner extends MmuPe {
  readonly mmu: Mmu;
}

export class Mmu {
  private readonly tagLo = new Int32Array(TLB_ENTRIES);
  private readonly tagHi = new Int32Array(TLB_ENTRIES);
  private readonly ctxOf = new Int32Array(TLB_ENTRIES);
  private readonly pageBase = new Float64Array(TLB_ENTRIES);
  private readonly perms = new Uint16Array(TLB_ENTRIES);
  /** log2 of the stage-1 leaf an entry came from: a TLBI by VA covers the whole block. */
  private readonly leafBits = new Uint8Array(TLB_ENTRIES);

  /** Current context ids (ASID-tagged and global); -1 when stale. */
  private ctx = -1;
  private gctx = -1;
  /**
   * Hash of the context XORed into the index, so that a guest and its host (or two address spaces)
   * don't evict each other.
   */
  private salt = 0;
  private regime: Regime = Regime.EL2;
  private s2on = false;
  private privShift = PERM_SHIFT_PRIV;
  private unprivShift = PERM_SHIFT_PRIV;
  private panApplies = false;
  private nextId = 1;
  /** Bumped by translation-register writes, TLB maintenance and flushes: invalidates elCache. */
  private epoch = 0;
  private readonly elCache: ElContext[] = [0, 1, 2].map(() => ({
    epoch: -1,
    hcr: 0,
    e2h: false,
    regime: Regime.EL2,
    s2on: false,
    privShift: 0,
    unprivShift: 0,
    panApplies: false,
    ctx: -1,
    gctx: -1,
    salt: 0,
  }));
  private readonly contexts = new Map<string, Context>();
  private readonly translator: Translator;

  /** One 64-bit slot seen as two int32 halves (little-endian: [0] = VA[31:0]). */
  private readonly vaSplit64 = new BigUint64Array(1);
  private readonly vaSplit32 = new Int32Array(this.vaSplit64.buffer);

  /** Counters for the curious (and the bench): walks done. */
  walks = 0;
  /**
   * Bumped whenever any cached translation may have changed; the run loop keeps the
   * current code page across straight-line execution only while this stays the same.
   */
  generation = 0;

  constructor(private readonly cpu: MmuPe) {
    this.translator = new Translator(cpu, false);
  }

  /**
   * Translates `va` for an access of `type` at the current EL and returns the PA.
   * `syndrome` holds the ISS bits [24:14] (ISV, SAS, SSE, SRT, SF, AR) a stage-2 data
   * abort reports; `unprivileged` marks LDTR/STTR. Throws the architected abort on a fault.
   */
  translate(va: bigint, type: AccessType, syndrome: number, unprivileged: boolean): number {
    // Split the VA through a typed array: no BigInt arithmetic, no allocation.
    this.vaSplit64[0] = va;
    const lo = this.vaSplit32[0]!;
    const hi = this.vaSplit32[1]!;
    // AccessType.Fetch (2) >> 1 selects the instruction half.
    const idx = (((lo >>> 12) ^ this.salt) & TLB_MASK) | ((type >>> 1) << TLB_BITS);
    const c = this.ctxOf[idx]!;
    if ((c === this.ctx || c === this.gctx) && this.tagLo[idx] === (lo & ~0xfff) && this.tagHi[idx] === hi) {
      let sh = unprivileged ? this.unprivShift : this.privShift;
      if (sh === PERM_SHIFT_PRIV && this.panApplies && this.cpu.ps.pan !== 0) sh = PERM_SHIFT_PAN;
      if (((this.perms[idx]! >>> (sh + type)) & 1) !== 0) return this.pageBase[idx]! + (lo & 0xfff);
    }
    return this.translateSlow(va, type, syndrome, unprivileged, lo, hi, idx);
  }

  private translateSlow(
    va: bigint,
    type: AccessType,
    syndrome: number,
    unpriv: boolean,
    lo: number,
    hi: number,
    idx: number,
  ): number {
    if (this.ctx < 0) {
      this.refreshContext();
      return this.translate(va, type, syndrome, unpriv);
    }
    let sh = unpriv ? this.unprivShift : this.privShift;
    if (sh === PERM_SHIFT_PRIV && this.panApplies && this.cpu.ps.pan !== 0) sh = PERM_SHIFT_PAN;
    this.walks++;
    const t = this.translator.translate(
      this.regime,
      va,
      { type, permShift: sh, check: true },
      this.s2on ? Stage2Use.Full : Stage2Use.None,
    );
    if (t.fault !== null) throw this.faultException(t.fault, va, type, syndrome);
    this.fill(idx, lo, hi, t);
    return t.pa;
  }

  private fill(idx: number, lo: number, hi: number, t: Translation): void {
    this.ctxOf[idx] = t.global ? this.gctx : this.ctx;
    this.tagLo[idx] = lo & ~0xfff;
    this.tagHi[idx] = hi;
    this.pageBase[idx] = t.pa - (lo & 0xfff);
    this.perms[idx] = t.perms;
    this.leafBits[idx] = t.sizeBits;
  }

  /** The current regime, stage-2 use and context ids, from PSTATE and the registers. */
  private refreshContext(): void {
    const cpu = this.cpu;
    const el = cpu.ps.el;
    // Exception entry and return flip between a few ELs with the registers unchanged:
    // reuse what this EL last computed unless a register write, TLBI or HCR_EL2 change
    // happened since.
    const hcrBits = cpu.hcr & HCR_CONTEXT_BITS;
    const cached = this.elCache[el]!;
    if (cached.epoch === this.epoch && cached.hcr === hcrBits && cached.e2h === cpu.e2h) {
      this.regime = cached.regime;
      this.s2on = cached.s2on;
      this.privShift = cached.privShift;
      this.unprivShift = cached.unprivShift;
      this.panApplies = cached.panApplies;
      this.ctx = cached.ctx;
      this.gctx = cached.gctx;
      this.salt = cached.salt;
      return;
    }
    this.computeContext(el);
    Object.assign(cached, {
      epoch: this.epoch,
      hcr: hcrBits,
      e2h: cpu.e2h,
      regime: this.regime,
      s2on: this.s2on,
      privShift: this.privShift,
      unprivShift: this.unprivShift,
      panApplies: this.panApplies,
      ctx: this.ctx,
      gctx: this.gctx,
      salt: this.salt,
    });
  }

  private computeContext(el: number): void {
    const cpu = this.cpu;
    // Start over before, not while, making the (at most two) new contexts.
    if (this.contexts.size >= MAX_CONTEXTS - 2) this.flushAll();
    const host = cpu.e2h && cpu.tge;
    const regime = translationRegime(cpu, el);
    this.regime = regime;
    this.s2on = regime === Regime.EL10 && stage2Enabled(cpu);
    this.privShift = el === 0 ? PERM_SHIFT_EL0 : PERM_SHIFT_PRIV;
    // LDTR/STTR (ACC_UNPRIV) check EL0 permissions at EL1 and in a VHE host's EL2 (E2H=1,
    // TGE=1); at EL0 and otherwise at EL2 they are ordinary accesses. Neither FEAT_UAO nor
    // FEAT_NV is implemented, so PSTATE.UAO and HCR_EL2.NV play no part.
    this.unprivShift = el === 1 || (el === 2 && host) ? PERM_SHIFT_EL0 : this.privShift;
    this.panApplies = el === 1 || (el === 2 && cpu.e2h);
    const sr = cpu.sr;
    const el2 = regime !== Regime.EL10;
    const vmid = regime === Regime.EL10 ? currentVmid(cpu) : -1;
    const parts = [
      regime,
      cpu.hcr & HCR_CONTEXT_BITS,
      cpu.e2h ? 1 : 0,
      sr[el2 ? SR.SCTLR_EL2! : SR.SCTLR_EL1!]! & 0x8_0001n, // M, WXN
      sr[el2 ? SR.TCR_EL2! : SR.TCR_EL1!]!,
      sr[el2 ? SR.TTBR0_EL2! : SR.TTBR0_EL1!]! & 0xffff_ffff_ffffn,
      regime === Regime.EL2 ? 0n : sr[el2 ? SR.TTBR1_EL2! : SR.TTBR1_EL1!]! & 0xffff_ffff_ffffn,
      this.s2on ? sr[SR.VTCR_EL2!]! : 0n,
      this.s2on ? sr[SR.VTTBR_EL2!]! & 0xffff_ffff_ffffn : 0n,
      vmid,
    ];
    const gkey = parts.join(':');
    const asid = regime === Regime.EL2 ? -1 : s1Params(cpu, regime, 0n).p.asid;
    this.gctx = this.context(gkey, regime, vmid, -1).id;
    this.ctx = asid < 0 ? this.gctx : this.context(`${gkey}:${asid}`, regime, vmid, asid).id;
    this.salt = Math.imul(this.ctx, 0x9e37_79b1) >>> (32 - TLB_BITS);
  }

  private context(key: string, regime: Regime, vmid: number, asid: number): Context {
    let c = this.contexts.get(key);
    if (c === undefined) {
      c = { id: this.nextId++, regime, vmid, asid, key };
      this.contexts.set(key, c);
    }
    return c;
  }

  // --- aborts ----------------------------------------------------------------

  /** The abort for a fault detected at stage 1 of the current regime (alignment, external). */
  abort(va: bigint, type: AccessType, fsc: number, extraIss = 0): ArchException {
    const target = defaultTargetEL(this.cpu);
    const same = target === this.cpu.ps.el;
    const ec =
      type === AccessType.Fetch ? (same ? EC.IABORT_SAME : EC.IABORT_LOWER) : same ? EC.DABORT_SAME : EC.DABORT_LOWER;
    const wnr = type === AccessType.Write ? 1 << 6 : 0;
    return new ArchException(target, ec, fsc | wnr | extraIss, va);
  }

  /**
   * The abort for a translation fault: stage-1 faults go to EL1 (EL2 from EL2 or under
   * TGE); stage-2 faults go to EL2 with HPFAR_EL2 = IPA[47:12] in bits [43:4] and, for a
   * data access not on a stage-1 walk, the instruction syndrome (ISV...AR) in ISS[24:14].
   */
  faultException(f: TranslationFault, va: bigint, type: AccessType, syndrome: number, extraIss = 0): ArchException {
    const fetch = type === AccessType.Fetch;
    // "For other faults reported in ESR_EL2, ISV is 0 except for the following stage 2
    // aborts" (ARM ARM, ISS encoding for a Data Abort): no syndrome for stage 1. QEMU 7.2
    // also gives it for stage-1 aborts taken from EL2 (test/mmu/fixtures.test.ts).
    if (f.stage === 1) return this.abort(va, type, f.fsc, extraIss);
    let iss = f.fsc | (f.s1ptw ? 1 << 7 : 0) | extraIss;
    // WnR reports the access; a stage-1 table fetch is a read. Cache maintenance and AT
    // (ISS.CM) always report 1.
    if (!fetch && !f.s1ptw) iss |= (type === AccessType.Write ? 1 << 6 : 0) | (syndrome & ISS_INSN_SYNDROME);
    if ((extraIss & ISS_CM) !== 0) iss |= 1 << 6;
    const ec = fetch ? EC.IABORT_LOWER : EC.DABORT_LOWER;
    const hpfar = f.ipa >= 0 ? BigInt(Math.floor(f.ipa / 4096)) << 4n : undefined;
    return new ArchException(2, ec, iss, va, hpfar);
  }

  // --- context changes and TLB maintenance --------------------------------------

  /** Exception entry/return or an HCR_EL2 write: the regime may have changed. */
  contextChanged(): void {
    this.ctx = -1;
    this.gctx = -1;
    this.generation++;
  }

  /** The registers or the TLB changed: recompute the context, also for the ELs elCache remembers. */
  private registersChanged(): void {
    this.contextChanged();
    this.epoch++;
  }

  /** A system register was written: translation registers change the context. */
  controlWritten(s: SysregSpec): void {
    if (CONTEXT_REG[s.id] !== 0) this.registersChanged();
  }

  /** Drops every cached translation. */
  flushAll(): void {
    this.contexts.clear();
    this.ctxOf.fill(0);
    this.registersChanged();
  }

  /** Retires the contexts `match` selects: their entries never hit again. */
  private retire(match: (c: Context) => boolean): void {
    for (const [k, c] of this.contexts) if (match(c)) this.contexts.delete(k);
    this.registersChanged();
  }

  private liveIds(match: (c: Context) => boolean): Set<number> {
    const ids = new Set<number>();
    for (const c of this.contexts.values()) if (match(c)) ids.add(c.id);
    return ids;
  }

  /** The VMID an EL1&0 invalidation applies to (none for the host's EL2&0). */
  private matchVmid(regime: Regime): (c: Context) => boolean {
    if (regime !== Regime.EL10) return (c) => c.regime === regime;
    const vmid = currentVmid(this.cpu);
    return (c) => c.regime === Regime.EL10 && c.vmid === vmid;
  }

  /** TLBI VMALLE1(IS): every stage-1 entry of the current VMID (or of the host's EL2&0). */
  tlbiVmallE1(): void {
    this.retire(this.matchVmid(e1Regime(this.cpu)));
  }

  /** TLBI ASIDE1(IS): the non-global entries of one ASID. */
  tlbiAsidE1(xt: bigint): void {
    const regime = e1Regime(this.cpu);
    const inVm = this.matchVmid(regime);
    const asid = this.asidOperand(regime, xt);
    this.retire((c) => inVm(c) && c.asid === asid);
  }

  /** TLBI VAE1/VALE1 (allAsids false) and VAAE1/VAALE1 (true). */
  tlbiVaE1(xt: bigint, allAsids: boolean): void {
    const regime = e1Regime(this.cpu);
    this.invalidateVa(xt, this.matchVmid(regime), allAsids ? -2 : this.asidOperand(regime, xt));
  }

  /** TLBI VAE2/VALE2: EL2 (E2H=0) or EL2&0 (E2H=1, by ASID) entries. */
  tlbiVaE2(xt: bigint): void {
    const regime = translationRegime(this.cpu, 2);
    this.invalidateVa(xt, (c) => c.regime === regime, regime === Regime.EL2 ? -2 : this.asidOperand(regime, xt));
  }

  /** TLBI ALLE2(IS): every EL2 and EL2&0 entry. */
  tlbiAllE2(): void {
    this.retire((c) => c.regime !== Regime.EL10);
  }

  /** TLBI ALLE1(IS): every EL1&0 entry of every VMID. */
  tlbiAllE1(): void {
    this.retire((c) => c.regime === Regime.EL10);
  }

  /** TLBI VMALLS12E1(IS) and IPAS2(L)E1(IS): every EL1&0 entry of the current VMID. */
  tlbiVmallS12E1(): void {
    this.retire(this.matchVmid(Regime.EL10));
  }

  /** The ASID of a TLBI operand (Xt[63:48]), cut to the regime's ASID size. */
  private asidOperand(regime: Regime, xt: bigint): number {
    const tcr = this.cpu.sr[regime === Regime.EL10 ? SR.TCR_EL1! : SR.TCR_EL2!]!;
    const as16 = ((tcr >> 36n) & 1n) === 1n;
    return Number(xt >> 48n) & (as16 ? 0xffff : 0xff);
  }

  /**
   * Invalidates the entries whose stage-1 leaf contains VA[55:12] = Xt[43:0], in the
   * contexts `inScope` selects, for one ASID (plus global entries), or any (asid -2).
   */
  private invalidateVa(xt: bigint, inScope: (c: Context) => boolean, asid: number): void {
    const page = Number(xt & 0xfff_ffff_ffffn); // VA[55:12]
    const vaHi = Math.floor(page / 2 ** 20) & 0xff_ffff; // VA[55:32]
    const vaLo = (page % 2 ** 20) * 4096; // VA[31:12] << 12
    const ids = this.liveIds((c) => inScope(c) && (asid === -2 || c.asid === -1 || c.asid === asid));
    this.generation++;
    for (let i = 0; i < TLB_ENTRIES; i++) {
      if (!ids.has(this.ctxOf[i]!)) continue;
      if ((this.tagHi[i]! & 0xff_ffff) !== vaHi) continue;
      const bits = this.leafBits[i]!;
      const eLo = this.tagLo[i]! >>> 0;
      if (Math.floor(eLo / 2 ** bits) === Math.floor(vaLo / 2 ** bits)) this.ctxOf[i] = 0;
    }
  }

  // --- inspection (the debugger) ----------------------------------------------------

  /**
   * Every live TLB entry, for the debugger: which VA page maps which PA page in which
   * context, with its permissions. Side-effect free.
   */
  tlbEntries(): TlbEntry[] {
    if (this.ctx < 0) this.refreshContext();
    const byId = new Map<number, Context>();
    for (const c of this.contexts.values()) byId.set(c.id, c);
    const out: TlbEntry[] = [];
    for (let i = 0; i < TLB_ENTRIES; i++) {
      const c = byId.get(this.ctxOf[i]!);
      if (c === undefined) continue;
      out.push({
        va: (BigInt(this.tagHi[i]! >>> 0) << 32n) | BigInt(this.tagLo[i]! >>> 0),
        pa: this.pageBase[i]!,
        regime: c.regime,
        vmid: c.vmid >= 0 ? c.vmid : null,
        asid: c.asid >= 0 ? c.asid : null,
        perms: this.perms[i]!,
        fetch: i >= TLB_SIZE,
        current: c.id === this.ctx || c.id === this.gctx,
      });
    }
    return out;
  }

  // --- top-byte-ignore ----------------------------------------------------------

  /** AArch64.BranchAddr: with TBI for the target's range, bits [63:56] follow bit 55 (or are zero at EL2). */
  branchAddr(target: bigint): bigint {
    // Bits [63:55] all equal: TBI cannot change the address (the common case, no BigInt math).
    this.vaSplit64[0] = target;
    const top9 = this.vaSplit32[1]! >> 23;
    if (top9 === 0 || top9 === -1) return target;
    const cpu = this.cpu;
    const regime = translationRegime(cpu, cpu.ps.el);
    let tbi: boolean;
    if (regime === Regime.EL2) {
      tbi = ((cpu.sr[SR.TCR_EL2!]! >> 20n) & 1n) === 1n;
      return tbi ? target & 0x00ff_ffff_ffff_ffffn : target;
    }
    const upper = ((target >> 55n) & 1n) === 1n;
    const tcr = cpu.sr[regime === Regime.EL10 ? SR.TCR_EL1! : SR.TCR_EL2!]!;
    tbi = ((tcr >> (upper ? 38n : 37n)) & 1n) === 1n;
    if (!tbi) return target;
    return upper ? target | 0xff00_0000_0000_0000n : target & 0x00ff_ffff_ffff_ffffn;
  }
}
