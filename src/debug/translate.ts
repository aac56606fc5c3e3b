// The debugger's memory views and their side-effect-free translation. The MMU owns the
// walk (src/mmu/debug.ts); the debugger sees it through `DebugWalker`: a walk of a view that
// fills no TLB, updates no access flag and takes no fault, and reports each level.
import type { Cpu } from '../cpu/cpu.js';
import { HCR } from '../sysregs/registry.js';
import { debugTranslate, type DebugLeaf } from '../mmu/debug.js';

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
  /**
   * Where the descriptor was read: its address in its own space (an IPA for stage-1 tables under stage 2)
   * and the PA.
   */
  readonly descriptorAddress: number;
  readonly descriptorPA: number;
  readonly descriptor: bigint;
  /** What the descriptor is: 'table', 'block', 'page', 'invalid'. */
  readonly kind: string;
  /** A stage-2 walk made to fetch a stage-1 descriptor. */
  readonly forS1Walk: boolean;
}

export interface DebugTranslation {
  /** The regime walked, in words (e.g. 'EL1&0 stage 1 + stage 2'). */
  readonly regime: string;
  readonly steps: readonly WalkStep[];
  /** The IPA, where stage 2 was involved. */
  readonly ipa?: number;
  /** The physical address, or undefined with `fault` saying why not. */
  readonly pa?: number;
  readonly fault?: string;
  /** One line per leaf: size, memory type, permissions. */
  readonly leaves?: readonly string[];
}

/** What the debugger needs from the MMU. */
export interface DebugWalker {
  /** The walk described level by level (`monitor translate`). */
  translate(va: bigint, view: MemoryView, access: 'read' | 'write'): DebugTranslation;
  /** The same walk's physical address alone (memory packets), undefined where it has none. */
  pa(va: bigint, view: MemoryView, access: 'read' | 'write'): number | undefined;
}

const PA_LIMIT = 1n << 48n;

/** HCR_EL2.VM: whether the hypervisor has turned stage 2 on. */
export const hcrVm = (cpu: Cpu): boolean => ((cpu.hcr >>> HCR.VM) & 1) === 1;

/** The stages a view walks, in words, given the CPU's current state. */
export function regimeOf(cpu: Cpu, view: MemoryView): string {
  const vm = hcrVm(cpu);
  switch (view) {
    case 'phys':
      return 'physical (no translation)';
    case 'ipa':
      return `stage 2 ${vm ? '(VTTBR_EL2)' : '(off: HCR_EL2.VM=0, IPA = PA)'}`;
    case 'el2':
      return `${cpu.e2h ? 'EL2&0' : 'EL2'} stage 1`;
    case 'el1':
      return `EL1&0 stage 1${vm ? ' + stage 2' : ''}`;
    case 'current': {
      const atEl2 = cpu.ps.el === 2 || (cpu.ps.el === 0 && cpu.e2h && cpu.tge);
      return regimeOf(cpu, atEl2 ? 'el2' : 'el1');
    }
  }
}

function describeLeaf(stage: 1 | 2, l: DebugLeaf): string {
  const size =
    l.size >= 1 << 30 ? `${l.size / 2 ** 30}G` : l.size >= 1 << 20 ? `${l.size / 2 ** 20}M` : `${l.size / 1024}K`;
  const perms = stage === 1 ? `EL0 ${l.el0} EL1/2 ${l.privileged}` : l.privileged;
  return `stage ${stage} leaf: level ${l.level} ${size} ${l.memType}, ${l.shareability}, ${perms}${l.global ? '' : ', nG'}`;
}

/**
 * The walker over the MMU's side-effect-free debugger walk (src/mmu/debug.ts). A
 * permission fault still yields the PA: the debugger reads and writes what the walk
 * reaches, whatever the guest's permissions (as a JTAG debugger would).
 */
export class MmuWalker implements DebugWalker {
  constructor(private readonly cpu: Cpu) {}

  pa(va: bigint, view: MemoryView, access: 'read' | 'write'): number | undefined {
    if (view === 'phys') return va < PA_LIMIT ? Number(va) : undefined;
    return debugTranslate(this.cpu, va, view, access).pa ?? undefined;
  }

  translate(va: bigint, view: MemoryView, access: 'read' | 'write'): DebugTranslation {
    if (view === 'phys') {
      if (va >= PA_LIMIT)
        return {
          regime: 'physical',
          steps: [],
          fault: `0x${va.toString(16)} is beyond the 48-bit physical address space`,
        };
      return { regime: 'physical (no translation)', steps: [], pa: Number(va) };
    }
    const t = debugTranslate(this.cpu, va, view, access);
    const leaves: string[] = [];
    if (t.stage1) leaves.push(describeLeaf(1, t.stage1));
    if (t.stage2) leaves.push(describeLeaf(2, t.stage2));
    const s2 = view !== 'ipa' && t.ipa !== null;
    return {
      regime: t.regime === 'stage 2' ? 'stage 2 (IPA → PA)' : `${t.regime} stage 1${s2 ? ' + stage 2' : ''}`,
      steps: t.levels, // the MMU's WalkLevel carries every WalkStep field
      ...(t.ipa !== null && view !== 'ipa' ? { ipa: t.ipa } : {}),
      ...(t.pa !== null ? { pa: t.pa } : {}),
      ...(t.fault
        ? { fault: `${t.fault.description}${t.pa !== null ? ' (the debugger may still access it)' : ''}` }
        : {}),
      leaves,
    };
  }
}
