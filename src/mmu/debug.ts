// The debugger's view of address translation: translate an address in a named regime
// without side effects and show every step of the walk.
//
//   debugTranslate(cpu, va, regime, access?) → DebugTranslation
//
// regime:
//   'el1'     the EL1&0 regime as a guest sees it: stage 1 (TTBR0/1_EL1, TCR_EL1, SCTLR_EL1)
//             then stage 2 when HCR_EL2.VM is set — the result is a PA.
//   'el2'     the EL2 regime as configured: EL2 (TTBR0_EL2) with HCR_EL2.E2H = 0, EL2&0
//             (TTBR0/1_EL2) with E2H = 1.
//   'el20'    the EL2&0 regime, whatever E2H says.
//   'ipa'     stage 2 only: `va` is an IPA.
//   'current' the regime of the current EL, as the CPU's next access would use it.
// access: 'read' (default), 'write' or 'fetch', and `el0` to check EL0's permissions
// instead of the privileged ones; PSTATE.PAN is not applied.
//
// No side effects: no exception is taken, no TLB entry is filled or dropped, no
// register or descriptor changes (there is no hardware Access-flag update to
// suppress), and tables are read from RAM only — a table outside RAM reports an
// external abort instead of touching a device.
//
// The result has the PA (or null), the IPA where stage 2 was involved, the fault if
// any (a permission fault still reports the PA the walk reached), every descriptor
// read in order (`levels`, stage-2 walks of stage-1 table fetches included and marked
// forS1Walk), and the attributes of the leaf or leaves.
//
// Also here: staleTlbEntries(cpu), the cached translations of the current context that
// the tables no longer give (what a missing TLBI leaves behind), built on
// Mmu.tlbEntries() (every live TLB entry with its regime, VMID, ASID and permissions).
import type { MmuOwner } from './mmu.js';
import type { TlbEntry } from './mmu.js';
import { Regime, REGIME_NAMES, translationRegime, stage2Enabled, s2Params } from './regime.js';
import {
  AccessType,
  Translator,
  Stage2Use,
  PERM_SHIFT_EL0,
  PERM_SHIFT_PRIV,
  type WalkLevel,
  type TranslationFault,
  type LeafInfo,
} from './walk.js';
import { describeFsc } from '../cpu/syndrome.js';

export type DebugRegime = 'el1' | 'el2' | 'el20' | 'ipa' | 'current';
export type DebugAccess = 'read' | 'write' | 'fetch';

export interface DebugFault {
  /** The FSC as ESR/PAR would report it, level included. */
  readonly fsc: number;
  readonly stage: 1 | 2;
  readonly level: number;
  readonly s1ptw: boolean;
  /** For stage-2 faults, the IPA that faulted (what HPFAR_EL2 would hold, unshifted); else null. */
  readonly ipa: number | null;
  /** e.g. 'translation fault, level 2'. */
  readonly description: string;
}

/** The attributes of one stage's leaf descriptor. */
export interface DebugLeaf {
  readonly level: number;
  readonly descriptor: bigint;
  /** Size of the block or page in bytes. */
  readonly size: number;
  /** Stage 1: the MAIR_ELx attribute byte chosen by AttrIndx; stage 2: MemAttr[3:0]. */
  readonly memAttr: number;
  readonly attrIndx: number;
  /** Memory type in words, e.g. 'Device-nGnRE' or 'Normal WB/WB'. */
  readonly memType: string;
  readonly shareability: 'non-shareable' | 'outer' | 'inner' | 'reserved';
  readonly global: boolean;
  readonly contiguous: boolean;
  /** Permissions as 'rwx' strings ('-' where denied). Stage 2 gives the same for both. */
  readonly el0: string;
  readonly privileged: string;
}

export interface DebugTranslation {
  readonly regime: 'EL1&0' | 'EL2' | 'EL2&0' | 'stage 2';
  readonly va: bigint;
  /** The stage-1 output when stage 2 is involved (or the input, for 'ipa'); else null. */
  readonly ipa: number | null;
  /** The physical address, or null when the walk did not get there. */
  readonly pa: number | null;
  readonly fault: DebugFault | null;
  readonly levels: readonly WalkLevel[];
  readonly stage1: DebugLeaf | null;
  readonly stage2: DebugLeaf | null;
}

export type { WalkLevel } from './walk.js';

function memTypeS1(attr: number): string {
  if (attr >>> 4 === 0) return ['Device-nGnRnE', 'Device-nGnRE', 'Device-nGRE', 'Device-GRE'][(attr >>> 2) & 3]!;
  const part = (n: number): string => (n === 4 ? 'NC' : n >>> 2 === 1 || n >>> 2 === 3 ? 'WB' : 'WT');
  return `Normal ${part(attr >>> 4)}/${part(attr & 0xf)}`;
}

function memTypeS2(m: number): string {
  if (m >>> 2 === 0) return ['Device-nGnRnE', 'Device-nGnRE', 'Device-nGRE', 'Device-GRE'][m & 3]!;
  const part = (c: number): string => ['?', 'NC', 'WT', 'WB'][c]!;
  return `Normal ${part((m >>> 2) & 3)}/${part(m & 3)}`;
}

function rwx(perms: number, shift: number): string {
  return (
    ((perms >>> shift) & 1 ? 'r' : '-') +
    ((perms >>> (shift + 1)) & 1 ? 'w' : '-') +
    ((perms >>> (shift + 2)) & 1 ? 'x' : '-')
  );
}

function leaf(l: LeafInfo | null, stage: 1 | 2): DebugLeaf | null {
  if (l === null) return null;
  return {
    level: l.level,
    descriptor: l.descriptor,
    size: 2 ** l.sizeBits,
    memAttr: l.memAttr,
    attrIndx: l.attrIndx,
    memType: stage === 1 ? memTypeS1(l.memAttr) : memTypeS2(l.memAttr),
    shareability: (['non-shareable', 'reserved', 'outer', 'inner'] as const)[l.sh]!,
    global: !l.nG,
    contiguous: l.contiguous,
    el0: rwx(l.perms, PERM_SHIFT_EL0),
    privileged: rwx(l.perms, PERM_SHIFT_PRIV),
  };
}

function fault(f: TranslationFault | null): DebugFault | null {
  if (f === null) return null;
  return {
    fsc: f.fsc,
    stage: f.stage,
    level: f.level,
    s1ptw: f.s1ptw,
    ipa: f.ipa >= 0 ? f.ipa : null,
    description: describeFsc(f.fsc) + (f.stage === 2 ? ' (stage 2' + (f.s1ptw ? ', on the stage-1 walk)' : ')') : ''),
  };
}

const TYPES: Record<DebugAccess, AccessType> = {
  read: AccessType.Read,
  write: AccessType.Write,
  fetch: AccessType.Fetch,
};

/** Translates `va` in `regime` without side effects; see the file comment. */
export function debugTranslate(
  cpu: MmuOwner,
  va: bigint,
  regime: DebugRegime,
  access: DebugAccess = 'read',
  opts: { el0?: boolean } = {},
): DebugTranslation {
  const levels: WalkLevel[] = [];
  const tr = new Translator(cpu, true, levels);
  const type = TYPES[access];
  const acc = { type, permShift: opts.el0 ? PERM_SHIFT_EL0 : PERM_SHIFT_PRIV, check: true };
  if (regime === 'ipa') {
    const t = tr.translateStage2(va, acc);
    return {
      regime: 'stage 2',
      va,
      ipa: Number(va),
      pa: t.pa >= 0 ? t.pa : null,
      fault: fault(t.fault),
      levels,
      stage1: null,
      stage2: leaf(t.s2, 2),
    };
  }
  const r =
    regime === 'el1'
      ? Regime.EL10
      : regime === 'el20'
        ? Regime.EL20
        : regime === 'el2'
          ? translationRegime(cpu, 2)
          : translationRegime(cpu, cpu.ps.el);
  const s2 = r === Regime.EL10 && stage2Enabled(cpu);
  const t = tr.translate(r, va, acc, s2 ? Stage2Use.Full : Stage2Use.None);
  return {
    regime: REGIME_NAMES[r],
    va,
    ipa: s2 && t.ipa >= 0 ? t.ipa : null,
    pa: t.pa >= 0 ? t.pa : null,
    fault: fault(t.fault),
    levels,
    stage1: leaf(t.s1, 1),
    stage2: leaf(t.s2, 2),
  };
}

/** Stage-2 parameters as the debugger shows them (VTCR_EL2 decoded). */
export function describeStage2(cpu: MmuOwner): {
  enabled: boolean;
  granule: number;
  inputBits: number;
  startLevel: number;
  base: number;
} {
  const p = s2Params(cpu);
  return {
    enabled: p.enabled,
    granule: 2 ** p.granuleBits,
    inputBits: p.inputSize,
    startLevel: p.startLevel,
    base: p.base,
  };
}

/** A TLB entry the current tables no longer produce: a missing TLBI, or a pending one. */
export interface StaleEntry {
  readonly entry: TlbEntry;
  readonly regime: 'EL1&0' | 'EL2' | 'EL2&0';
  /** What a walk of the current tables gives for the same page (pa null: now a fault). */
  readonly walkPa: number | null;
  readonly walkFault: DebugFault | null;
  /** Cached and walked permissions as 'el0 privileged' rwx strings. */
  readonly cachedPerms: string;
  readonly walkPerms: string | null;
}

/**
 * The TLB entries of the current context that disagree with a side-effect-free walk of
 * the tables as they are now (PA or permissions). On hardware these are the entries a
 * missing TLBI leaves behind; a hypervisor developer hunting a stale-translation bug
 * sees them here before the guest trips over one.
 */
export function staleTlbEntries(cpu: MmuOwner): StaleEntry[] {
  const out: StaleEntry[] = [];
  for (const e of cpu.mmu.tlbEntries()) {
    if (!e.current) continue;
    const name = REGIME_NAMES[e.regime];
    const regime: DebugRegime = e.regime === Regime.EL10 ? 'el1' : e.regime === Regime.EL20 ? 'el20' : 'el2';
    const w = debugTranslate(cpu, e.va, regime, e.fetch ? 'fetch' : 'read');
    const both = (p: number): string => `${rwx(p, PERM_SHIFT_EL0)} ${rwx(p, PERM_SHIFT_PRIV)}`;
    const walkPerms =
      w.stage1 !== null || w.stage2 !== null
        ? both((w.stage1 ? permsOf(w.stage1) : 0x1ff) & (w.stage2 ? permsOf(w.stage2) : 0x1ff))
        : w.pa !== null
          ? both(0x1ff)
          : null;
    const cachedPerms = both(e.perms);
    if (w.pa === e.pa && walkPerms === cachedPerms) continue;
    out.push({ entry: e, regime: name, walkPa: w.pa, walkFault: w.fault, cachedPerms, walkPerms });
  }
  return out;
}

/** The PERM mask of a debugger leaf, back from its rwx strings. */
function permsOf(l: DebugLeaf): number {
  const bits = (t: string): number => (t[0] === 'r' ? 1 : 0) | (t[1] === 'w' ? 2 : 0) | (t[2] === 'x' ? 4 : 0);
  return (bits(l.el0) << PERM_SHIFT_EL0) | (bits(l.privileged) << PERM_SHIFT_PRIV);
}
