// What each TLBI operation names, resolved from the issuing PE's registers (its regime,
// VMID and ASID size) into a TlbiScope that every PE's Mmu.invalidate applies: the Inner
// Shareable forms reach the other PEs with the issuer's scope, as the architecture has it.
import { SR } from '../sysregs/registry.js';
import { Regime, currentVmid, e1Regime, translationRegime, type MmuPe } from './regime.js';

/** TlbiScope.asid for operations on every ASID. */
export const ANY_ASID = -2;

export interface TlbiScope {
  /** The regimes whose entries it names, as bits 1 << Regime. */
  readonly regimes: number;
  /** The VMID of the EL1&0 entries it names, -1 for every VMID (and for the EL2 regimes). */
  readonly vmid: number;
  /** The ASID of the non-global entries it names, or ANY_ASID. */
  readonly asid: number;
  /** Global entries too, when `asid` names one ASID (by VA: yes; ASIDE1: no). */
  readonly global: boolean;
  /** VA[55:12] of the page, or -1 for every address. */
  readonly page: number;
}

/** The TLBI operations, by the name the ARM ARM gives their non-IS forms. */
export type TlbiOp =
  | 'VMALLE1'
  | 'VAE1'
  | 'ASIDE1'
  | 'VAAE1'
  | 'VALE1'
  | 'VAALE1'
  | 'ALLE2'
  | 'VAE2'
  | 'ALLE1'
  | 'VALE2'
  | 'VMALLS12E1'
  | 'IPAS2E1'
  | 'IPAS2LE1';

const bit = (r: Regime): number => 1 << r;

/** The scope of `op` with operand `xt`, issued by `cpu`. */
export function tlbiScope(cpu: MmuPe, op: TlbiOp, xt: bigint): TlbiScope {
  const page = Number(xt & 0xfff_ffff_ffffn); // VA[55:12]; FEAT_TTL's hint bits [47:44] are not implemented
  const all = { asid: ANY_ASID, global: true, page: -1 };
  switch (op) {
    case 'VMALLE1':
      return { ...inVm(cpu, e1Regime(cpu)), ...all };
    case 'ASIDE1': {
      const r = e1Regime(cpu);
      return { ...inVm(cpu, r), asid: asidOperand(cpu, r, xt), global: false, page: -1 };
    }
    case 'VAE1':
    case 'VALE1': {
      const r = e1Regime(cpu);
      return { ...inVm(cpu, r), asid: asidOperand(cpu, r, xt), global: true, page };
    }
    case 'VAAE1':
    case 'VAALE1':
      return { ...inVm(cpu, e1Regime(cpu)), ...all, page };
    case 'VAE2':
    case 'VALE2': {
      const r = translationRegime(cpu, 2);
      const asid = r === Regime.EL2 ? ANY_ASID : asidOperand(cpu, r, xt);
      return { regimes: bit(r), vmid: -1, asid, global: true, page };
    }
    case 'ALLE2':
      return { regimes: bit(Regime.EL2) | bit(Regime.EL20), vmid: -1, ...all };
    case 'ALLE1':
      return { regimes: bit(Regime.EL10), vmid: -1, ...all };
    // Entries combine both stages and keep no IPA: by IPA drops every EL1&0 entry of the VMID.
    case 'VMALLS12E1':
    case 'IPAS2E1':
    case 'IPAS2LE1':
      return { ...inVm(cpu, Regime.EL10), ...all };
  }
}

/** One regime, and for EL1&0 the current VMID (the host's EL2&0 has none). */
function inVm(cpu: MmuPe, r: Regime): { regimes: number; vmid: number } {
  return { regimes: bit(r), vmid: r === Regime.EL10 ? currentVmid(cpu) : -1 };
}

/** The ASID of a TLBI operand (Xt[63:48]), cut to the regime's ASID size (TCR.AS). */
function asidOperand(cpu: MmuPe, regime: Regime, xt: bigint): number {
  const tcr = cpu.sr[regime === Regime.EL10 ? SR.TCR_EL1! : SR.TCR_EL2!]!;
  const as16 = ((tcr >> 36n) & 1n) === 1n;
  return Number(xt >> 48n) & (as16 ? 0xffff : 0xff);
}
