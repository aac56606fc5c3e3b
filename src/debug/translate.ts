// The debugger's memory views and its side-effect-free translation. The MMU owns the real
// walk; the debugger needs from it only `DebugWalker`: a walk of a named regime that
// fills no TLB, updates no access flag and takes no fault, and reports each level.
import type { Cpu } from '../cpu/cpu.js';
import { SR, HCR } from '../sysregs/registry.js';

export type MemoryView = 'current' | 'el2' | 'el1' | 'ipa' | 'phys';
export const MEMORY_VIEWS: readonly MemoryView[] = ['current', 'el2', 'el1', 'ipa', 'phys'];

export const VIEW_HELP: Readonly<Record<MemoryView, string>> = {
  current: "the stopped CPU's own regime: what its loads and stores reach now",
  el2: 'hypervisor virtual addresses: EL2 stage 1 (the EL2&0 regime when HCR_EL2.E2H=1)',
  el1: 'guest virtual addresses: EL1&0 stage 1, then stage 2 when HCR_EL2.VM=1',
  ipa: 'guest physical (intermediate physical) addresses: stage 2 only',
  phys: 'physical addresses: no translation',
};

export interface WalkStep {
  readonly stage: 1 | 2;
  readonly level: number;
  /** Physical address the descriptor was read from. */
  readonly descriptorAddress: number;
  readonly descriptor: bigint;
  /** What the descriptor means: 'table', 'block 2M', 'page', 'invalid', … */
  readonly note: string;
}

export interface DebugTranslation {
  /** The regime walked, in words (e.g. 'EL1&0 stage 1 (MMU off) + stage 2 (off)'). */
  readonly regime: string;
  readonly steps: readonly WalkStep[];
  /** The physical address, or undefined with `fault` saying why not. */
  readonly pa?: number;
  readonly fault?: string;
}

/** What the debugger needs from the MMU. */
export interface DebugWalker {
  translate(va: bigint, view: MemoryView, access: 'read' | 'write'): DebugTranslation;
}

const PA_LIMIT = 1n << 48n;

/** Which stages a view walks, given the CPU's current state. */
export function regimeOf(cpu: Cpu, view: MemoryView): { s1: 'el2' | 'el1' | null; s2: boolean; name: string } {
  const vm = ((cpu.hcr >>> HCR.VM) & 1) === 1;
  const el2Regime = cpu.e2h ? 'EL2&0' : 'EL2';
  switch (view) {
    case 'phys': return { s1: null, s2: false, name: 'physical (no translation)' };
    case 'ipa': return { s1: null, s2: vm, name: `stage 2 ${vm ? '(VTTBR_EL2)' : '(off: HCR_EL2.VM=0, IPA = PA)'}` };
    case 'el2': return { s1: 'el2', s2: false, name: `${el2Regime} stage 1` };
    case 'el1': return { s1: 'el1', s2: vm, name: `EL1&0 stage 1${vm ? ' + stage 2' : ''}` };
    case 'current': {
      const atEl2 = cpu.ps.el === 2 || (cpu.ps.el === 0 && cpu.e2h && cpu.tge);
      return atEl2 ? regimeOf(cpu, 'el2') : regimeOf(cpu, 'el1');
    }
  }
}

/**
 * The walker available until the MMU provides its debugger walk: exact while the
 * regime's MMU is off (flat mapping, the only translation the core implements yet), and
 * an honest refusal when a stage is enabled.
 */
export class FlatWalker implements DebugWalker {
  constructor(private readonly cpu: Cpu) {}

  translate(va: bigint, view: MemoryView, _access: 'read' | 'write'): DebugTranslation {
    const cpu = this.cpu;
    const r = regimeOf(cpu, view);
    if (r.s1 !== null) {
      const sctlr = r.s1 === 'el2' ? cpu.sr[SR.SCTLR_EL2!]! : cpu.sr[SR.SCTLR_EL1!]!;
      const reg = r.s1 === 'el2' ? 'SCTLR_EL2' : 'SCTLR_EL1';
      if ((sctlr & 1n) !== 0n) {
        return { regime: `${r.name}`, steps: [], fault: `${reg}.M=1: stage-1 walks need the MMU's debugger walk, which is not available yet` };
      }
    }
    if (r.s2) {
      return { regime: r.name, steps: [], fault: 'HCR_EL2.VM=1: stage-2 walks need the MMU\'s debugger walk, which is not available yet' };
    }
    if (va >= PA_LIMIT) return { regime: `${r.name} (MMU off)`, steps: [], fault: `0x${va.toString(16)} is beyond the 48-bit physical address space` };
    return { regime: r.s1 === null ? r.name : `${r.name} (MMU off: VA = PA)`, steps: [], pa: Number(va) };
  }
}
