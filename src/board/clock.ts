// The machine's clock: time in counter ticks derived from retired instructions, and the
// deadlines devices register (a timer's compare value). The scheduler never runs a PE past
// the next deadline, and when every PE sleeps it jumps time straight to it.

interface Deadline {
  at: number;
  fire: () => void;
}

export class Clock {
  private deadlines: Deadline[] = [];
  /**
   * Told when a deadline comes before every other one (a timer armed by the running PE): the
   * scheduler then ends the PE's slice, which it sized by the deadlines it knew.
   */
  onSooner: (() => void) | null = null;

  /** Calls `fire` when time reaches `at`; returns a function that cancels it. */
  at(at: number, fire: () => void): () => void {
    if (at < this.next()) this.onSooner?.();
    const d = { at, fire };
    const i = this.deadlines.findIndex((x) => x.at > at);
    this.deadlines.splice(i < 0 ? this.deadlines.length : i, 0, d);
    return () => {
      const j = this.deadlines.indexOf(d);
      if (j >= 0) this.deadlines.splice(j, 1);
    };
  }

  /** The earliest deadline, Infinity when none is set. */
  next(): number {
    return this.deadlines[0]?.at ?? Infinity;
  }

  /** Fires, in time order, every deadline at or before `now`. */
  fireDue(now: number): void {
    while (this.deadlines.length > 0 && this.deadlines[0]!.at <= now) this.deadlines.shift()!.fire();
  }

  clear(): void {
    this.deadlines = [];
  }
}
