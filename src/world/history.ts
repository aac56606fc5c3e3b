// What the world layer remembers of its records, in a fixed amount of memory however long the
// run: ring buffers of the most recent exits, loads, puts and hazards. The statistics come from
// the layer's running sums; whoever needs every record (the report, the trace) listens to the
// events and writes them out.
import type { Hazard, LoadPutRecord } from './world.js';
import type { Exit } from './pe.js';

/** The last `capacity` items pushed, oldest first. */
export class Ring<T> {
  private readonly items: T[] = [];
  private next = 0;
  /** How many were ever pushed. */
  total = 0;

  constructor(readonly capacity: number) {}

  push(x: T): void {
    if (this.items.length < this.capacity) this.items.push(x);
    else this.items[this.next] = x;
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

/** Exits, whose records the layer fills in again once they leave the ring unseen: those handed out are kept. */
class ExitRing extends Ring<Exit> {
  override toArray(): Exit[] {
    const xs = super.toArray();
    for (const x of xs) x.escaped = true;
    return xs;
  }
}

/** The recent records, oldest first; `total` counts them all. */
export class Recent {
  readonly exits = new ExitRing(RECENT.exits);
  readonly loadPut = new Ring<LoadPutRecord>(RECENT.loadPut);
  readonly hazards = new Ring<Hazard>(RECENT.hazards);
}
