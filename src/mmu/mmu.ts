// Address translation as the CPU sees it: a software TLB in front of the walker
// (./walk.ts), the aborts a failed translation raises, TLB maintenance, and top-byte-ignore
// for branch targets.
//
// The TLB's storage and index are ./tlb.ts. A hit (Mmu.hit) splits the VA through a
// BigUint64Array into two int32 halves, then does four integer compares: no BigInt arithmetic,
// no allocation. Measured on Node 20 (test/mmu/tlb-lookup-bench.mjs, VAs computed with
// BigInt.asUintN as the load/store code produces them): 3 to 5 times the lookups per second of
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
// retires the matching contexts (their ids are never matched again), at a cost in the number of
// live contexts; TLBI by VA looks only where the page's entries can be (./tlb.ts). A TLBI
// resolves its scope on the issuing PE (./tlbi.ts), and the Inner Shareable forms apply that
// same scope to every PE's TLB.
//
// Deviations, all permitted by the architecture: the Contiguous hint is ignored; a
// TTBR/TCR/SCTLR change takes effect without TLBI (entries made under the old value
// belong to another context); IPAS2E1* invalidates every entry of the VMID (entries
// combine both stages, so the IPA is not kept).
import { ArchException, EC, defaultTargetEL } from '../pe/exception.js';
import { SR, SYSREGS, specOf, type SysregSpec } from '../sysregs/registry.js';
import { Regime, type MmuPe, translationRegime, stage2Enabled, currentVmid, regimeAsid } from './regime.js';
import { BlockLeaves, TLB_ENTRIES, TLB_SIZE, TlbArrays, tlbIndex, tlbSalt } from './tlb.js';
import { ANY_ASID, type TlbiScope } from './tlbi.js';
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

/** When this many contexts are live, start over (a runaway of distinct TTBR values). */
const MAX_CONTEXTS = 4096;
/** ISS[24:14] of a data abort: ISV, SAS, SSE, SRT, SF, AR — what the load/store passes as `syndrome`. */
const ISS_INSN_SYNDROME = 0x01ff_c000;
/** ISS.CM, bit 8: the abort came from a cache maintenance or address translation instruction. */
export const ISS_CM = 1 << 8;

/**
 * HCR_EL2 bits that select the regime or change walks: VM, PTW, DC, TGE (E2H is kept apart).
 * They play no part in the EL2 and EL2&0 regimes' walks, nor in which one EL2 uses.
 */
const HCR_CONTEXT_BITS = 0x0800_1005;
/** HCR_EL2.E2H (bit 34, beyond `hcr`'s 32) in an elCache entry's `bits`: a bit HCR_CONTEXT_BITS leaves out. */
const E2H_BIT = 1 << 1;

/** What refreshContext computed for one EL, valid while its regime's epoch and the HCR bits hold. */
interface ElContext {
  epoch: number;
  /** The HCR_EL2 bits it depends on, E2H as E2H_BIT (one integer compare). */
  bits: number;
  regime: Regime;
  s2on: boolean;
  panApplies: boolean;
  ctx: Context | null;
  gctx: Context | null;
}

interface Context {
  readonly id: number;
  readonly regime: Regime;
  readonly vmid: number;
  /** -1 for the context of global entries. */
  readonly asid: number;
  readonly key: string;
  /** XORed into the TLB index of the entries filled while this context is current (tlbSalt of the key). */
  readonly salt: number;
  /**
   * The salts its entries were filled under: its own, and for a global context those of every
   * ASID context its global entries were filled from (a TLBI by VA looks under each).
   */
  readonly salts: Set<number>;
  readonly blocks: BlockLeaves;
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

const EL10_ONLY = 1 << Regime.EL10;
const EL2_REGIMES = (1 << Regime.EL2) | (1 << Regime.EL20);
const ALL_REGIMES = EL10_ONLY | EL2_REGIMES;

/**
 * Registers whose writes change the translation context, by SysregSpec.id (one array load per
 * MSR): the regimes whose walks read them, as bits by Regime. A world switch rewrites the EL1
 * registers and VTTBR_EL2; the hypervisor's own context at EL2 stays.
 */
const CONTEXT_REG = new Uint8Array(SYSREGS.length);
for (const name of ['SCTLR_EL1', 'TCR_EL1', 'TTBR0_EL1', 'TTBR1_EL1', 'VTCR_EL2', 'VTTBR_EL2'])
  CONTEXT_REG[specOf(name).id] = EL10_ONLY;
for (const name of ['SCTLR_EL2', 'TCR_EL2', 'TTBR0_EL2', 'TTBR1_EL2']) CONTEXT_REG[specOf(name).id] = EL2_REGIMES;

/** A PE with its MMU: what address translation instructions and the debugger's views use. */
export interface MmuOwner extends MmuPe {
  readonly mmu: Mmu;
}

export class Mmu {
  readonly tlb = new TlbArrays();

  // The current context, read by the hit path (compiled code may read them too; only this class writes them).
  /** Current context ids (ASID-tagged and global); -1 when stale. */
  ctx = -1;
  gctx = -1;
  /** Salt of the current context, XORed into the index (tlbIndex). */
  salt = 0;
  /** PERM shift of an ordinary access and of LDTR/STTR at the current EL. */
  privShift = PERM_SHIFT_PRIV;
  unprivShift = PERM_SHIFT_PRIV;
  /** PSTATE.PAN restricts privileged accesses in this regime. */
  panApplies = false;
  private cur: Context | null = null;
  private curGlobal: Context | null = null;
  private regime: Regime = Regime.EL2;
  private s2on = false;
  private nextId = 1;
  /**
   * Bumped by translation-register writes that change a value (any EL's, the debugger's too),
   * TLB maintenance and flushes: tells the world layer its EL2 regime may have changed.
   */
  epoch = 0;
  /** Like `epoch`, for the changes each regime's walks see (by Regime): what elCache's entries check. */
  private readonly regimeEpochs = new Int32Array(3);
  private readonly elCache: ElContext[] = [0, 1, 2].map(() => ({
    epoch: -1,
    bits: 0,
    regime: Regime.EL2,
    s2on: false,
    panApplies: false,
    ctx: null,
    gctx: null,
  }));
  private readonly contexts = new Map<string, Context>();
  private readonly translator: Translator;
  /** The walker of `probe`: reads tables from RAM alone. */
  private readonly prober: Translator;

  /** One 64-bit slot seen as two int32 halves (little-endian: [0] = VA[31:0]). */
  private readonly vaSplit64 = new BigUint64Array(1);
  private readonly vaSplit32 = new Int32Array(this.vaSplit64.buffer);
  /** The PE's system registers as 32-bit halves (a context's key is made of them, no BigInt made). */
  private readonly sr32: Uint32Array;

  /** Counters for the curious (and the bench): walks done. */
  walks = 0;
  /** Contexts computed from the registers (what a world switch's register writes can cost). */
  computes = 0;
  /**
   * Bumped whenever any cached translation may have changed; the run loop keeps the
   * current code page across straight-line execution only while this stays the same.
   */
  generation = 0;

  constructor(private readonly cpu: MmuPe) {
    this.sr32 = new Uint32Array(cpu.sr.buffer, cpu.sr.byteOffset, cpu.sr.length * 2);
    this.translator = new Translator(cpu, false);
    this.prober = new Translator(cpu, true);
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
    const pa = this.hit(lo, hi, type, unprivileged);
    return pa >= 0 ? pa : this.translateSlow(va, type, syndrome, unprivileged, lo, hi);
  }

  /**
   * The TLB-hit path: the PA of VA = hi:lo (two int32 halves) for an access of `type`, or -1
   * when the TLB has no entry allowing it (then `translate` walks).
   */
  hit(lo: number, hi: number, type: AccessType, unprivileged: boolean): number {
    const t = this.tlb;
    const idx = tlbIndex(lo, this.salt, type);
    const c = t.ctxOf[idx]!;
    if ((c === this.ctx || c === this.gctx) && t.tagLo[idx] === (lo & ~0xfff) && t.tagHi[idx] === hi) {
      let sh = unprivileged ? this.unprivShift : this.privShift;
      if (sh === PERM_SHIFT_PRIV && this.panApplies && this.cpu.ps.pan !== 0) sh = PERM_SHIFT_PAN;
      if (((t.perms[idx]! >>> (sh + type)) & 1) !== 0) return t.pageBase[idx]! + (lo & 0xfff);
    }
    return -1;
  }

  private translateSlow(
    va: bigint,
    type: AccessType,
    syndrome: number,
    unpriv: boolean,
    lo: number,
    hi: number,
  ): number {
    if (this.ctx < 0) {
      this.refreshContext();
      return this.translate(va, type, syndrome, unpriv);
    }
    const t = this.walkFill(this.translator, va, type, unpriv, lo, hi);
    if (t.fault !== null) throw this.faultException(t.fault, va, type, syndrome);
    return t.pa;
  }

  /**
   * The PA of VA = hi:lo for an access of `type` as translate finds it, walking and filling the
   * TLB on a miss, or -1 where translate would fault or would read a table outside RAM: a compiled
   * access then takes its executor's path, which walks again and raises the fault. (Walks have no
   * side effects on RAM: hardware Access flag management is not implemented.)
   */
  probe(lo: number, hi: number, type: AccessType, unprivileged: boolean): number {
    if (this.ctx < 0) this.refreshContext();
    const pa = this.hit(lo, hi, type, unprivileged);
    if (pa >= 0) return pa;
    this.vaSplit32[0] = lo;
    this.vaSplit32[1] = hi;
    const t = this.walkFill(this.prober, this.vaSplit64[0]!, type, unprivileged, lo, hi);
    return t.fault === null ? t.pa : -1;
  }

  /** Walks `va` with `translator` for an access of `type`, and fills the TLB when it translates. */
  private walkFill(
    translator: Translator,
    va: bigint,
    type: AccessType,
    unpriv: boolean,
    lo: number,
    hi: number,
  ): Translation {
    let sh = unpriv ? this.unprivShift : this.privShift;
    if (sh === PERM_SHIFT_PRIV && this.panApplies && this.cpu.ps.pan !== 0) sh = PERM_SHIFT_PAN;
    this.walks++;
    const t = translator.translate(
      this.regime,
      va,
      { type, permShift: sh, check: true },
      this.s2on ? Stage2Use.Full : Stage2Use.None,
    );
    if (t.fault === null) this.fill(lo, hi, type, t);
    return t;
  }

  private fill(lo: number, hi: number, type: AccessType, t: Translation): void {
    const c = t.global ? this.curGlobal! : this.cur!;
    this.tlb.fill(tlbIndex(lo, this.salt, type), c.id, lo, hi, t.pa, t.perms, t.sizeBits);
    c.salts.add(this.salt);
    if (t.sizeBits > 12) c.blocks.add((hi & 0xff_ffff) * 2 ** 20 + (lo >>> 12), t.sizeBits);
  }

  /** The current regime, stage-2 use and context ids, from PSTATE and the registers. */
  private refreshContext(): void {
    const cpu = this.cpu;
    const el = cpu.ps.el;
    // Exception entry and return flip between a few ELs with the registers unchanged:
    // reuse what this EL last computed unless a register write, TLBI or HCR_EL2 change
    // happened since.
    const bits = (el === 2 ? 0 : cpu.hcr & HCR_CONTEXT_BITS) | (cpu.e2h ? E2H_BIT : 0);
    const cached = this.elCache[el]!;
    // LDTR/STTR (ACC_UNPRIV) check EL0 permissions at EL1 and in a VHE host's EL2 (E2H=1,
    // TGE=1); at EL0 and otherwise at EL2 they are ordinary accesses. Neither FEAT_UAO nor
    // FEAT_NV is implemented, so PSTATE.UAO and HCR_EL2.NV play no part. (Not cached: a VHE
    // hypervisor flips TGE at every entry and exit, and nothing else of EL2's context changes.)
    const privShift = el === 0 ? PERM_SHIFT_EL0 : PERM_SHIFT_PRIV;
    this.privShift = privShift;
    this.unprivShift = el === 1 || (el === 2 && cpu.e2h && cpu.tge) ? PERM_SHIFT_EL0 : privShift;
    if (cached.epoch === this.regimeEpochs[cached.regime] && cached.bits === bits) {
      this.regime = cached.regime;
      this.s2on = cached.s2on;
      this.panApplies = cached.panApplies;
      this.setContext(cached.ctx!, cached.gctx!);
      return;
    }
    this.computeContext(el);
    Object.assign(cached, {
      epoch: this.regimeEpochs[this.regime],
      bits,
      regime: this.regime,
      s2on: this.s2on,
      panApplies: this.panApplies,
      ctx: this.cur,
      gctx: this.curGlobal,
    });
  }

  private setContext(c: Context, g: Context): void {
    this.cur = c;
    this.curGlobal = g;
    this.ctx = c.id;
    this.gctx = g.id;
    this.salt = c.salt;
  }

  private computeContext(el: number): void {
    const cpu = this.cpu;
    this.computes++;
    // Start over before, not while, making the (at most two) new contexts.
    if (this.contexts.size >= MAX_CONTEXTS - 2) this.flushAll();
    const regime = translationRegime(cpu, el);
    this.regime = regime;
    this.s2on = regime === Regime.EL10 && stage2Enabled(cpu);
    this.panApplies = el === 1 || (el === 2 && cpu.e2h);
    const vmid = regime === Regime.EL10 ? currentVmid(cpu) : -1;
    const gkey = this.contextKey(regime, vmid);
    const asid = regimeAsid(cpu, regime);
    const g = this.context(gkey, regime, vmid, -1);
    this.setContext(asid < 0 ? g : this.context(gkey + String.fromCharCode(asid), regime, vmid, asid), g);
  }

  /**
   * What tells `regime`'s translations apart, as a string of 16-bit units: the HCR_EL2 bits and
   * E2H, SCTLR.M and WXN, TCR, the TTBRs' BADDR and CnP (not their ASIDs: the ASID context adds
   * its own), and under stage 2 VTCR_EL2 and VTTBR_EL2's BADDR; then the VMID.
   */
  private contextKey(regime: Regime, vmid: number): string {
    const cpu = this.cpu;
    const w = this.sr32;
    const el2 = regime !== Regime.EL10;
    const hcr = regime === Regime.EL10 ? cpu.hcr & HCR_CONTEXT_BITS : 0;
    const sctlr = w[2 * (el2 ? SR.SCTLR_EL2! : SR.SCTLR_EL1!)]! & 0x8_0001; // M, WXN
    const tcr = 2 * (el2 ? SR.TCR_EL2! : SR.TCR_EL1!);
    const ttbr0 = 2 * (el2 ? SR.TTBR0_EL2! : SR.TTBR0_EL1!);
    const ttbr1 = regime === Regime.EL2 ? -1 : 2 * (el2 ? SR.TTBR1_EL2! : SR.TTBR1_EL1!);
    const vtcr = this.s2on ? 2 * SR.VTCR_EL2! : -1;
    const vttbr = this.s2on ? 2 * SR.VTTBR_EL2! : -1;
    // Bits [16k+15:16k] of the register at word `i` (-1: one left out, zeros).
    const u = (i: number, k: number): number => (i < 0 ? 0 : (w[i + (k >>> 1)]! >>> (16 * (k & 1))) & 0xffff);
    return String.fromCharCode(
      regime,
      hcr & 0xffff,
      hcr >>> 16,
      cpu.e2h ? 1 : 0,
      sctlr & 0xffff,
      sctlr >>> 16,
      u(tcr, 0),
      u(tcr, 1),
      u(tcr, 2),
      u(tcr, 3),
      u(ttbr0, 0),
      u(ttbr0, 1),
      u(ttbr0, 2),
      u(ttbr1, 0),
      u(ttbr1, 1),
      u(ttbr1, 2),
      u(vtcr, 0),
      u(vtcr, 1),
      u(vtcr, 2),
      u(vtcr, 3),
      u(vttbr, 0),
      u(vttbr, 1),
      u(vttbr, 2),
      vmid & 0xffff,
    );
  }

  private context(key: string, regime: Regime, vmid: number, asid: number): Context {
    let c = this.contexts.get(key);
    if (c === undefined) {
      const salt = tlbSalt(key);
      c = { id: this.nextId++, regime, vmid, asid, key, salt, salts: new Set([salt]), blocks: new BlockLeaves() };
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
  private registersChanged(regimes = ALL_REGIMES): void {
    this.contextChanged();
    this.epoch++;
    for (let r = 0; r < 3; r++) if (((regimes >>> r) & 1) !== 0) this.regimeEpochs[r]!++;
  }

  /**
   * A system register is written: translation registers change the context. `v`: the value a
   * plain register is about to hold (writing one its own value changes nothing: a hypervisor
   * loads VTTBR_EL2 at every entry, mostly with the value it holds); null once a register with
   * behaviour of its own was written.
   */
  controlWritten(s: SysregSpec, v: bigint | null): void {
    const regimes = CONTEXT_REG[s.id]!;
    if (regimes !== 0 && (v === null || this.cpu.sr[s.slot] !== v)) this.registersChanged(regimes);
  }

  /** Drops every cached translation. */
  flushAll(): void {
    this.contexts.clear();
    this.tlb.clear();
    this.registersChanged();
  }

  /**
   * TLB maintenance (a TLBI on this PE, or an Inner Shareable one from any PE): drops the
   * entries `scope` names. Whole contexts are retired (their ids never match again); a VA
   * drops only the entries that can hold it.
   */
  invalidate(scope: TlbiScope): void {
    const inScope = (c: Context): boolean =>
      ((scope.regimes >>> c.regime) & 1) !== 0 &&
      (scope.vmid < 0 || c.vmid === scope.vmid) &&
      (scope.asid === ANY_ASID || (c.asid < 0 ? scope.global : c.asid === scope.asid));
    if (scope.page < 0) {
      for (const [k, c] of this.contexts) if (inScope(c)) this.contexts.delete(k);
      this.registersChanged();
      return;
    }
    // Look under each salt an entry in scope can have been filled under, once.
    const bySalt = new Map<number, { ids: Set<number>; blocks: BlockLeaves[] }>();
    for (const c of this.contexts.values()) {
      if (!inScope(c)) continue;
      for (const salt of c.salts) {
        let g = bySalt.get(salt);
        if (g === undefined) bySalt.set(salt, (g = { ids: new Set(), blocks: [] }));
        g.ids.add(c.id);
        g.blocks.push(c.blocks);
      }
    }
    for (const [salt, g] of bySalt) this.tlb.invalidatePage(scope.page, salt, g.ids, g.blocks);
    this.generation++;
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
    const t = this.tlb;
    for (let i = 0; i < TLB_ENTRIES; i++) {
      const c = byId.get(t.ctxOf[i]!);
      if (c === undefined) continue;
      out.push({
        va: (BigInt(t.tagHi[i]! >>> 0) << 32n) | BigInt(t.tagLo[i]! >>> 0),
        pa: t.pageBase[i]!,
        regime: c.regime,
        vmid: c.vmid >= 0 ? c.vmid : null,
        asid: c.asid >= 0 ? c.asid : null,
        perms: t.perms[i]!,
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
