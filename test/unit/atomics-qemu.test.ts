// The FEAT_LSE atomics compared with QEMU: one generated program (fixed seed) runs every form —
// LD<op> and SWP in each size and ordering, the ST<op> aliases, CAS (matching and not) and CASP on
// register pairs — then every misalignment of each size, then faults on a read-only mapping and on
// an unmapped one, on qemu-system-aarch64 and on hypstep. After each case both print X0–X14, NZCV
// and the 16-byte cell the case worked on; the handler prints every exception (ESR, ELR, FAR);
// the whole cell area is printed at the end. The outputs must be identical, QEMU's ESRs read as the
// ARM ARM has them (QEMU 7.2 adds an instruction syndrome to stage-1 aborts taken to EL2: see
// armArmEsrLine). QEMU agrees with the ARM ARM on the atomics' WnR: 0 for alignment and
// translation faults, 1 for a write refused on a read-only page, a failing CAS included.
//
// The program (atomics-program.ts) runs at EL2 with the MMU on: RAM (1-2 GiB) Normal read/write,
// the same RAM again at 3-4 GiB read-only, and nothing at 2-3 GiB. A fixed seed, and a fresh one
// each run (HYPSTEP_LSE_SEED reproduces it); `npm run soak` runs many more (test/soak/lse.soak.ts).
import { describe, it, expect } from 'vitest';
import { compareAtomics } from './atomics-program.js';

const freshSeed =
  process.env.HYPSTEP_LSE_SEED !== undefined
    ? Number(process.env.HYPSTEP_LSE_SEED)
    : Math.floor(Math.random() * 0x7fff_ffff);

describe('FEAT_LSE atomics against QEMU', () => {
  it('every form, misalignment and fault prints the same registers, NZCV, exceptions and memory on both', () => {
    expect(compareAtomics(0x1a70_1c5e)).toBeNull();
  });
  it(`the same with fresh registers, values and cells: seed ${freshSeed} (HYPSTEP_LSE_SEED=${freshSeed} reproduces)`, () => {
    expect(compareAtomics(freshSeed)).toBeNull();
  });
});
