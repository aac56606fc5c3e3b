// Why the guest exited: ESR_EL2, FAR_EL2 and HPFAR_EL2 decoded into one short line, and a
// category the accounting and the report colour by. Works for any hypervisor: it reads only
// the architectural syndrome registers.
import { hex } from '../cpu/bits.js';
import { EC } from '../pe/exception.js';
import { SR } from '../sysregs/registry.js';
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

/** Exits whose text depends on the syndrome alone, decoded once per syndrome (a run repeats a few). */
const byEsr = new Map<number, ExitReason>();
const BY_ESR_MAX = 4096;

/**
 * `decodeExit` for the exit path: the same reasons, without formatting text again for a
 * syndrome already seen (aborts, whose text names the address, are decoded each time).
 */
export function exitReason(kind: number, esr: number, sr: BigUint64Array, interrupt?: string): ExitReason {
  const ec = esr >>> 26;
  // An IRQ or FIQ that names its INTID, and an abort (its text names the address), are not cached.
  if (interrupt !== undefined || (kind === 0 && (ec === EC.DABORT_LOWER || ec === EC.IABORT_LOWER)))
    return decodeExit(kind, esr, sr[SR.FAR_EL2!]!, sr[SR.HPFAR_EL2!]!, interrupt);
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
