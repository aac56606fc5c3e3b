// Why the guest exited: ESR_EL2, FAR_EL2 and HPFAR_EL2 decoded into one short line, and a
// category the accounting and the report colour by. Works for any hypervisor: it reads only
// the architectural syndrome registers.
import { hex } from '../cpu/bits.js';
import { EC } from '../pe/exception.js';
import { describeEsr, describeFsc } from '../cpu/syndrome.js';

export type ExitCategory =
  'hvc' | 'smc' | 'sysreg' | 'dabort' | 'iabort' | 'wfi' | 'wfe' | 'fp' | 'irq' | 'fiq' | 'serror' | 'other';

export interface ExitReason {
  readonly category: ExitCategory;
  /** e.g. `HVC #0x1`, `trapped MSR SCTLR_EL1, x3`, `data abort at IPA 0x10000000 (write, 4 bytes, w5)`. */
  readonly text: string;
  /** ESR_EL2 for synchronous exits and SError; 0 for IRQ/FIQ (ESR is not written). */
  readonly esr: number;
  /** The faulting IPA for stage-2 aborts (HPFAR_EL2.FIPA with FAR's page offset). */
  readonly ipa?: bigint;
}

/** Vector kind (0 sync, 1 IRQ, 2 FIQ, 3 SError) to a name. */
const ASYNC: readonly ExitCategory[] = ['other', 'irq', 'fiq', 'serror'];
const ASYNC_TEXT = ['', 'IRQ', 'FIQ', 'SError'];

/** HPFAR_EL2.FIPA (bits [43:4]) is IPA[51:12]; FAR supplies the offset within the page. */
export function faultIpa(hpfar: bigint, far: bigint): bigint {
  return (((hpfar >> 4n) & ((1n << 40n) - 1n)) << 12n) | (far & 0xfffn);
}

/** `interrupt` names what an IRQ or FIQ is for (`INTID 27, EL1 virtual timer`), when the machine knows. */
export function decodeExit(kind: number, esr: number, far: bigint, hpfar: bigint, interrupt?: string): ExitReason {
  if (kind !== 0) {
    const text = interrupt === undefined ? ASYNC_TEXT[kind]! : `${ASYNC_TEXT[kind]!} (${interrupt})`;
    return { category: ASYNC[kind]!, text, esr: kind === 3 ? esr : 0 };
  }
  const ec = esr >>> 26;
  const iss = esr & 0x1ff_ffff;
  switch (ec) {
    case EC.HVC:
      return { category: 'hvc', text: describeEsr(esr), esr };
    case EC.SMC:
      return { category: 'smc', text: describeEsr(esr), esr };
    case EC.SYS:
      return { category: 'sysreg', text: describeEsr(esr), esr };
    case EC.FP_ACCESS:
      // CPTR_EL2 trapped the guest's SIMD&FP use: a lazy FP switch's load.
      return { category: 'fp', text: describeEsr(esr), esr };
    case EC.WFX:
      return iss & 1 ? { category: 'wfe', text: 'WFE', esr } : { category: 'wfi', text: 'WFI', esr };
    case EC.DABORT_LOWER: {
      const ipa = faultIpa(hpfar, far);
      let detail: string;
      if (iss & (1 << 24)) {
        const size = 1 << ((iss >>> 22) & 3);
        const reg = `${(iss >>> 15) & 1 ? 'x' : 'w'}${(iss >>> 16) & 0x1f}`;
        detail = `${iss & (1 << 6) ? 'write' : 'read'}, ${size} byte${size > 1 ? 's' : ''}, ${reg}`;
      } else {
        detail = iss & (1 << 6) ? 'write' : 'read';
      }
      const fsc = iss & 0x3f;
      // A translation fault is the ordinary MMIO case; say the fault kind only when it is something else.
      if ((fsc & 0x3c) !== 0x04) detail += `, ${describeFsc(fsc)}`;
      if (iss & (1 << 7)) detail += ', on stage-1 walk';
      return { category: 'dabort', text: `data abort at IPA ${hex(ipa)} (${detail})`, esr, ipa };
    }
    case EC.IABORT_LOWER: {
      const ipa = faultIpa(hpfar, far);
      return {
        category: 'iabort',
        text: `instruction abort at IPA ${hex(ipa)} (${describeFsc(iss & 0x3f)})`,
        esr,
        ipa,
      };
    }
    default:
      return { category: 'other', text: describeEsr(esr), esr };
  }
}

/** The categories in a fixed order: per-category tables are indexed by `exitClass`'s low bits. */
export const CATEGORIES: readonly ExitCategory[] = [
  'hvc',
  'smc',
  'sysreg',
  'dabort',
  'iabort',
  'wfi',
  'wfe',
  'fp',
  'irq',
  'fiq',
  'serror',
  'other',
];

/** `exitClass`'s bits: the category's index in CATEGORIES, and whether the text names the faulting address. */
export const enum ExitClass {
  CATEGORY = 15,
  /** A stage-2 abort: its text names the address from FAR and HPFAR, so it is decoded at the exit. */
  NAMES_ADDRESS = 16,
}

// `exitClass` by vector kind and syndrome: [EC, ESR bit 0] for synchronous exits (bit 0 tells
// WFE from WFI), then IRQ, FIQ and SError; as `decodeExit` classes them.
const EXIT_CLASS = Int8Array.from({ length: 132 }, (_, i) => {
  const kind = i < 128 ? 0 : i - 128;
  const esr = kind === 0 ? (((i >>> 1) << 26) | (i & 1)) >>> 0 : 0;
  const ec = esr >>> 26;
  const address = kind === 0 && (ec === EC.DABORT_LOWER || ec === EC.IABORT_LOWER);
  return CATEGORIES.indexOf(decodeExit(kind, esr, 0n, 0n).category) | (address ? ExitClass.NAMES_ADDRESS : 0);
});

/** An exit's category and whether its text names an address (`ExitClass`): one table read, no decoding. */
export function exitClass(kind: number, esr: number): number {
  return EXIT_CLASS[kind === 0 ? ((esr >>> 25) & 0x7e) | (esr & 1) : 128 + kind]!;
}

/** Reasons decoded once per syndrome (a run repeats a few). */
const byEsr = new Map<number, ExitReason>();
const BY_ESR_MAX = 4096;

/**
 * `decodeExit` of an exit whose text depends on the syndrome alone (not a stage-2 abort, nor an
 * IRQ or FIQ the machine names): the same reason, without formatting its text again for a
 * syndrome already seen.
 */
export function syndromeReason(kind: number, esr: number): ExitReason {
  const key = kind === 0 ? esr : -kind - (kind === 3 ? esr * 4 : 0);
  if (key === last.key) return last.reason!;
  let r = byEsr.get(key);
  if (r === undefined) {
    if (byEsr.size >= BY_ESR_MAX) byEsr.clear();
    byEsr.set(key, (r = decodeExit(kind, esr, 0n, 0n)));
  }
  last.key = key;
  last.reason = r;
  return r;
}
/** The reason asked last: a loop of exits repeats one syndrome. */
const last: { key: number; reason: ExitReason | null } = { key: NaN, reason: null };

/** VTTBR_EL2.VMID: 16 bits when VTCR_EL2.VS (bit 19) is set, else 8. */
export function vmidOf(vttbr: bigint, vtcr: bigint): number {
  const bits = (vtcr >> 19n) & 1n ? 0xffffn : 0xffn;
  return Number((vttbr >> 48n) & bits);
}
