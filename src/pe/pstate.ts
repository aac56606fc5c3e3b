// PSTATE as the run loop keeps it (small numbers), and its SPSR encoding.
export const SPSR = {
  N: 31,
  Z: 30,
  C: 29,
  V: 28,
  TCO: 25,
  DIT: 24,
  UAO: 23,
  PAN: 22,
  SS: 21,
  IL: 20,
  D: 9,
  A: 8,
  I: 7,
  F: 6,
  nRW: 4,
} as const;

/** The PSTATE fields an AArch64-only, EL2-without-EL3 PE has. */
export class PState {
  n = 0;
  z = 0;
  c = 0;
  v = 0;
  /** D, A, I, F as bits 3..0. */
  daif = 0xf;
  el = 2;
  sp = 1;
  ss = 0;
  il = 0;
  pan = 0;

  /** The value an exception saves in SPSR_ELx. */
  toSpsr(): number {
    return (
      ((this.n << 31) |
        (this.z << 30) |
        (this.c << 29) |
        (this.v << 28) |
        (this.pan << SPSR.PAN) |
        (this.ss << SPSR.SS) |
        (this.il << SPSR.IL) |
        (this.daif << 6) |
        (this.el << 2) |
        this.sp) >>>
      0
    );
  }

  /** Restores everything but EL and SP selection, which the caller validates first. */
  setFlagsAndMasks(spsr: number): void {
    this.n = (spsr >>> 31) & 1;
    this.z = (spsr >>> 30) & 1;
    this.c = (spsr >>> 29) & 1;
    this.v = (spsr >>> 28) & 1;
    this.pan = (spsr >>> SPSR.PAN) & 1;
    this.ss = (spsr >>> SPSR.SS) & 1;
    this.il = (spsr >>> SPSR.IL) & 1;
    this.daif = (spsr >>> 6) & 0xf;
  }

  get nzcv(): number {
    return (this.n << 3) | (this.z << 2) | (this.c << 1) | this.v;
  }
  set nzcv(f: number) {
    this.n = (f >> 3) & 1;
    this.z = (f >> 2) & 1;
    this.c = (f >> 1) & 1;
    this.v = f & 1;
  }
}
