// What the world layer remembers of its records, in a fixed amount of memory however long the
// run: ring buffers of the most recent exits, loads, puts and hazards. The statistics come from
// the layer's running sums; whoever needs every record (the report, the trace) listens to the
// events and writes them out.
import type { Hazard, LoadPutRecord } from './world.js';
import type { Exit } from './pe.js';

/** The last `capacity` items pushed, oldest first. */
export class Ring<T> {
  protected readonly items: T[] = [];
  protected next = 0;
  /** How many were ever pushed. */
  total = 0;

  constructor(readonly capacity: number) {}

  push(x: T): void {
    if (this.items.length < this.capacity) this.items.push(x);
    else this.items[this.next] = x;
    this.moveOn();
  }

  /** The next push goes to the following slot. */
  protected moveOn(): void {
    this.next = this.next + 1 === this.capacity ? 0 : this.next + 1;
    this.total++;
  }

  /** The item the next push replaces (undefined until the ring is full). */
  get oldest(): T | undefined {
    return this.items.length < this.capacity ? undefined : this.items[this.next];
  }

  toArray(): T[] {
    return this.items.length < this.capacity
      ? [...this.items]
      : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }
}

/** How many of the most recent records the layer keeps (for `monitor world`, tests and scripts). */
export const RECENT = { exits: 1024, loadPut: 256, hazards: 256 } as const;

/**
 * Exits, whose records the layer fills in again once they leave the ring unseen: those handed
 * out are kept. Whether each slot's record was handed out is kept beside the ring, so that the
 * exit path finds the record it may reuse without reading it (it is the ring's coldest memory).
 */
export class ExitRing extends Ring<Exit> {
  private readonly seen = new Uint8Array(this.capacity);

  override push(x: Exit): void {
    const i = this.next;
    x.slot = i;
    this.seen[i] = x.escaped ? 1 : 0;
    // A record filled in again goes back into its own slot: the ring only moves on.
    if (this.items[i] === x) this.moveOn();
    else super.push(x);
  }

  /** The record the next push replaces, unless it was handed out (or the ring is not full). */
  reusable(): Exit | undefined {
    return this.seen[this.next] === 0 ? this.oldest : undefined;
  }

  /** `x` is handed out: it is never filled in again. */
  escape(x: Exit): void {
    x.escaped = true;
    if (x.slot >= 0 && this.items[x.slot] === x) this.seen[x.slot] = 1;
  }

  override toArray(): Exit[] {
    const xs = super.toArray();
    for (const x of xs) this.escape(x);
    return xs;
  }
}

/** The recent records, oldest first; `total` counts them all. */
export class Recent {
  readonly exits = new ExitRing(RECENT.exits);
  readonly loadPut = new Ring<LoadPutRecord>(RECENT.loadPut);
  readonly hazards = new Ring<Hazard>(RECENT.hazards);
}
