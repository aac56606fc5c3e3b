// The global exclusive monitor: one reservation per PE, shared by the machine's PEs.

/** CTR_EL0.ERG: the Exclusives Reservation Granule is 2^4 words (64 bytes). */
export const ERG_BYTES = 64;

export class ExclusiveMonitor {
  /** How many PEs hold a reservation: a store checks nothing while it is 0. */
  open = 0;
  private readonly addr: number[];
  private readonly size: number[];

  /**
   * `cleared(pe)`: another PE's store took `pe`'s reservation away, which generates an
   * event for `pe` (WFE wakes, as in a spinlock waiting on LDAXR + WFE).
   */
  constructor(
    pes: number,
    private readonly cleared: (pe: number) => void = () => {},
  ) {
    this.addr = new Array<number>(pes).fill(-1);
    this.size = new Array<number>(pes).fill(0);
  }

  /** A load-exclusive of [pa, pa+size) by `pe`. */
  mark(pe: number, pa: number, size: number): void {
    if (this.addr[pe]! < 0) this.open++;
    this.addr[pe] = pa;
    this.size[pe] = size;
  }

  /** The store-exclusive check: whether `pe`'s reservation is for exactly [pa, pa+size); clears it. */
  pass(pe: number, pa: number, size: number): boolean {
    const ok = this.addr[pe] === pa && this.size[pe] === size;
    this.clear(pe);
    return ok;
  }

  clear(pe: number): void {
    if (this.addr[pe]! < 0) return;
    this.addr[pe] = -1;
    this.open--;
  }

  /**
   * A store to [pa, pa+size) by `pe`: it clears the storing PE's own reservation where it
   * overlaps it, and any other PE's whose reservation granule it touches.
   */
  stored(pe: number, pa: number, size: number): void {
    for (let i = 0; i < this.addr.length; i++) {
      const a = this.addr[i]!;
      if (a < 0) continue;
      if (i === pe) {
        if (pa < a + this.size[i]! && pa + size > a) this.clear(i);
      } else {
        const g = a - (a % ERG_BYTES);
        if (pa < g + ERG_BYTES && pa + size > g) {
          this.clear(i);
          this.cleared(i);
        }
      }
    }
  }
}
