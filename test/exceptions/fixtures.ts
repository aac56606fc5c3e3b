// Runs the exception fixtures (fixtures/exceptions) on QEMU and on hypstep.
import { runQemu } from '../helpers/qemu.js';
import { runHypstep } from '../helpers/hypstep.js';

export const FIXTURES = new URL('../../fixtures/exceptions/build/', import.meta.url).pathname;

export interface BothRuns {
  qemu: string;
  hypstep: string;
  hypstepStop: string;
  hypstepExit: number | null;
}

export function runBoth(name: string): BothRuns {
  const elf = `${FIXTURES}${name}.elf`;
  const q = runQemu(elf);
  if (q.status !== 0) throw new Error(`QEMU exited with ${q.status} on ${name}: ${q.stderr}`);
  const h = runHypstep(elf, 5_000_000);
  return { qemu: q.stdout, hypstep: h.stdout, hypstepStop: h.stop, hypstepExit: h.exitCode };
}

/**
 * ESR_ELx as the ARM ARM lays it out, written here independently of src/: EC[31:26],
 * IL[25], ISS[24:0].
 */
export function esr(ec: number, iss: number): string {
  return `esr ${(((ec << 26) | (1 << 25) | iss) >>> 0).toString(16).padStart(16, '0')}`;
}

/** The ISS of a trapped MSR/MRS/SYS (EC 0x18), as the unit tests compute it. */
export { sysIss } from './harness.js';
