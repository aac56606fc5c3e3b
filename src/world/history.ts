// What the world layer remembers of its records, in a fixed amount of memory however long the
// run: ring buffers of the most recent exits, loads, puts and hazards. The statistics come from
// the layer's running sums; whoever needs every record (the report, the trace) listens to the
// events and writes them out.
import type { SysregSpec } from '../sysregs/registry.js';
import { joined } from '../cpu/bits.js';
import { syndromeReason, type ExitReason } from './reason.js';
import { countedByName, type PeWorld } from './pe.js';
import type { ExitRecord, Hazard, LoadPutRecord } from './world.js';

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

  toArray(): T[] {
    return this.items.length < this.capacity
      ? [...this.items]
      : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }
}

/** How many of the most recent records the layer keeps (for `monitor world`, tests and scripts). */
export const RECENT = { exits: 1024, loadPut: 256, hazards: 256 } as const;

// Why a slot's record is kept (`ExitLog.keep`): someone holds it, or it is its PE's last exit.
const enum Keep {
  HELD = 1,
  LAST = 2,
}

/**
 * The most recent exits. Each slot holds an exit's record, filled in again for a later exit once
 * it leaves the log unseen; a record someone holds (a listener, `toArray`, a PE's last exit)
 * keeps its own object, and its slot gets a new one. The exit path therefore writes plain
 * numbers into an object it already has. Whether a slot's record is kept is a byte beside the
 * log: the record was last touched a thousand exits ago, and reading it to ask would wait for
 * memory at every exit.
 */
export class ExitLog {
  readonly capacity = RECENT.exits;
  /** How many exits were ever logged. */
  total = 0;
  /** The PEs, whose register logs hold the windows' MSR/MRS (set by the world once they exist). */
  pes: readonly PeWorld[] = [];
  private next = 0;
  private readonly slots: Exit[] = [];
  private readonly keep = new Uint8Array(this.capacity);
  /** Vcpu names, by the index a record holds. */
  private readonly names: string[] = [];
  private readonly nameIds = new Map<string, number>();

  /** The index a record holds for vcpu `name`. */
  nameId(name: string): number {
    let id = this.nameIds.get(name);
    if (id === undefined) this.nameIds.set(name, (id = this.names.push(name) - 1));
    return id;
  }

  /** The name of vcpu `id` (`nameId`; -1: none). */
  name(id: number): string | null {
    return id < 0 ? null : this.names[id]!;
  }

  /** The record the next exit fills in: the oldest, unless someone holds it or it is its PE's last. */
  take(): Exit {
    const s = this.next;
    this.next = s + 1 === this.capacity ? 0 : s + 1;
    this.total++;
    let r = this.slots[s];
    if (r === undefined || this.keep[s] !== 0) {
      this.slots[s] = r = new Exit(this, s);
      this.keep[s] = 0;
    }
    return r;
  }

  /** `r` is held from now on: never filled in again. */
  hold(r: Exit): Exit {
    if (this.slots[r.slot] === r) this.keep[r.slot]! |= Keep.HELD;
    return r;
  }

  /** `x` is its PE's last exit, no longer `prev`: kept while it is. */
  last(prev: Exit | null, x: Exit): void {
    if (prev !== null && this.slots[prev.slot] === prev) this.keep[prev.slot]! &= ~Keep.LAST;
    this.keep[x.slot]! |= Keep.LAST;
  }

  /** The records in the log, oldest first (each held from now on). */
  toArray(): Exit[] {
    const n = Math.min(this.total, this.capacity);
    const first = this.total <= this.capacity ? 0 : this.next;
    const out: Exit[] = [];
    for (let k = 0; k < n; k++) out.push(this.hold(this.slots[(first + k) % this.capacity]!));
    return out;
  }
}

/**
 * An exit's record. Its costs are final once `closed` (by the next entry on its PE); until then
 * they are 0, and its registers are those its window has accessed so far.
 */
export class Exit implements ExitRecord {
  n = 0;
  pe = 0;
  vmid = 0;
  /** The vcpu's name as the log's `nameId` (-1: none). */
  vcpuId = -1;
  kind = 0;
  esr = 0;
  elrLo = 0;
  elrHi = 0;
  // Doubles from the start (a count may outgrow a small integer): one field representation for good.
  icount = 0.5;
  /** Where its window's MSR/MRS start in its PE's register log. */
  regStart = 0.5;
  closed = false;
  el2Insns = 0.5;
  hostInsns = 0.5;
  /** Its window's MSR/MRS, counted when it closed. */
  regCount = 0;
  /** The reason, when decoded at the exit (its text names FAR's address or the interrupt) or since. */
  decoded: ExitReason | null = null;

  constructor(
    private readonly log: ExitLog,
    /** Its slot in the log. */
    readonly slot: number,
  ) {}

  get vcpu(): string | null {
    return this.log.name(this.vcpuId);
  }

  get reason(): ExitReason {
    return (this.decoded ??= syndromeReason(this.kind, this.esr));
  }

  /** The instruction that exited: an HVC's preferred return is the next one. */
  get pc(): bigint {
    const elr = joined(this.elrLo, this.elrHi);
    return this.reason.category === 'hvc' ? BigInt.asUintN(64, elr - 4n) : elr;
  }

  /** The MSR/MRS registers of its window in order: at its close, or (still open) so far. */
  get regs(): SysregSpec[] {
    const pe = this.log.pes[this.pe]!;
    return pe.loggedRegs(this.regStart, this.closed ? this.regCount : pe.regPos - this.regStart);
  }

  get sysregTotal(): number {
    return this.closed ? this.regCount : this.regs.length;
  }

  /** MSR/MRS by register. */
  get sysregs(): Record<string, number> {
    return countedByName(this.regs);
  }
}

/** The recent records, oldest first; `total` counts them all. */
export class Recent {
  readonly exits = new ExitLog();
  readonly loadPut = new Ring<LoadPutRecord>(RECENT.loadPut);
  readonly hazards = new Ring<Hazard>(RECENT.hazards);
}
