// Runs one assembled program on QEMU (the reference) and on hypstep.
import { withElf } from './asm.js';
import { runQemu, type QemuRun } from './qemu.js';
import { runHypstep, type HypstepRun } from './hypstep.js';

export interface BothRuns {
  qemu: QemuRun;
  hypstep: HypstepRun;
}

/** Assembles `source` (see asm.ts `program`) and runs the ELF on QEMU and on hypstep. */
export function runSourceOnBoth(source: string, opts: { qemuTimeoutMs?: number; budget?: number } = {}): BothRuns {
  return withElf(source, (elf) => ({ qemu: runQemu(elf, opts.qemuTimeoutMs), hypstep: runHypstep(elf, opts.budget) }));
}
