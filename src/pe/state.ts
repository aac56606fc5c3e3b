// What the layers below the run loop read of a PE: the MMU, the system registers and
// exception routing see a PE through this (and their own extensions of it), so they
// never depend on the run loop that implements it (cpu/cpu.ts).
import type { PState } from './pstate.js';

/**
 * The IRQ, FIQ and SError inputs, and the virtual IRQ and FIQ a GIC's virtual CPU interface
 * signals (taken as HCR_EL2.VI/VF are), as bits of PeState.lines.
 */
export const LINE = { IRQ: 1, FIQ: 2, SERROR: 4, VIRQ: 8, VFIQ: 16 } as const;
/** The physical inputs among the LINE bits. */
export const PHYSICAL_LINES = LINE.IRQ | LINE.FIQ | LINE.SERROR;

export interface PeState {
  readonly ps: PState;
  /** System-register storage, indexed by SR.<name>. */
  readonly sr: BigUint64Array;
  /** Cached from HCR_EL2 on every write: its low 32 bits, E2H and TGE. */
  readonly hcr: number;
  readonly e2h: boolean;
  readonly tge: boolean;
  /** The IRQ/FIQ/SError inputs devices drive (LINE bits). */
  readonly lines: number;
}
