// The architectural events the core raises to observers (the world layer, the debugger).
// The core only checks `cpu.observer !== null`; with nobody listening that is the whole cost.
// An exception's, an MRS/MSR's or a watched access's event object is the core's, filled in again
// for the next one (these are on every world switch): an observer reads it during its call and
// copies what it keeps.
// Their BigInt fields are read from the PE when an observer asks for them (the world layer
// mostly does not), so raising one stores no BigInt and makes none.
import type { SysregSpec } from '../sysregs/registry.js';
import type { Cpu } from './cpu.js';

export interface ExceptionTaken {
  readonly fromEL: number;
  readonly toEL: number;
  /** 0 synchronous, 1 IRQ, 2 FIQ, 3 SError: the vector's type offset / 0x80. */
  readonly kind: number;
  readonly esr: number;
  readonly far: bigint;
  /** The preferred return address saved in ELR. */
  readonly elr: bigint;
  readonly vector: bigint;
}

export interface ExceptionReturned {
  readonly fromEL: number;
  readonly toEL: number;
  readonly pc: bigint;
  readonly spsr: number;
}

export interface SysregAccessed {
  /** The register actually accessed, after VHE redirection. */
  readonly reg: SysregSpec;
  readonly write: boolean;
  readonly value: bigint;
  readonly pc: bigint;
}

export interface MemoryAccessed {
  readonly pa: number;
  readonly va: bigint;
  readonly size: number;
  readonly write: boolean;
  /** The value loaded or stored (the old value is available from `before` for stores). */
  readonly value: bigint;
  readonly before: bigint;
  readonly pc: bigint;
}

/**
 * The core's watched-memory event, one per PE: the VA (as a base and an offset), value and old
 * value are kept as 64-bit words (storing them makes no BigInt) and read as BigInts when asked;
 * the value as its `size` bytes.
 */
export class AccessEvent implements MemoryAccessed {
  pa = 0;
  size = 0;
  write = false;
  /** Added to the VA's base (words[0]). */
  offset = 0;
  /** The VA's base, the value, the old value. */
  readonly words = new BigUint64Array(3);
  constructor(private readonly cpu: Cpu) {}
  get va(): bigint {
    return this.offset === 0 ? this.words[0]! : BigInt.asUintN(64, this.words[0]! + BigInt(this.offset));
  }
  get value(): bigint {
    return this.size === 8 ? this.words[1]! : BigInt.asUintN(this.size * 8, this.words[1]!);
  }
  get before(): bigint {
    return this.words[2]!;
  }
  get pc(): bigint {
    return this.cpu.pcs[1]!;
  }
}

/** The core's exception-entry event: ELR and the vector are read from the PE (as the entry left them). */
export class TakenEvent implements ExceptionTaken {
  fromEL = 0;
  toEL = 0;
  kind = 0;
  esr = 0;
  /** FAR as the entry set it; undefined when it did not. */
  farSet: bigint | undefined = undefined;
  /** ELR_ELx of the target EL, as an index into the system-register file. */
  elrIndex = 0;
  cpu: Cpu = null!;
  get far(): bigint {
    return this.farSet ?? 0n;
  }
  get elr(): bigint {
    return this.cpu.sr[this.elrIndex]!;
  }
  get vector(): bigint {
    return this.cpu.pcs[0]!;
  }
}

/** The core's exception-return event: the PC is the PE's (the return address). */
export class ReturnedEvent implements ExceptionReturned {
  fromEL = 0;
  toEL = 0;
  spsr = 0;
  cpu: Cpu = null!;
  get pc(): bigint {
    return this.cpu.pcs[0]!;
  }
}

/** The core's MRS/MSR event: the value is the transfer register's (or, for an MRS to XZR, kept). */
export class SysregEvent implements SysregAccessed {
  reg: SysregSpec = null!;
  write = false;
  /** The transfer register, or -1 for an MRS to XZR (its value is then in `discarded`). */
  rt = 0;
  discarded = 0n;
  cpu: Cpu = null!;
  get value(): bigint {
    return this.rt < 0 ? this.discarded : this.cpu.x[this.rt]!;
  }
  get pc(): bigint {
    return this.cpu.pcs[1]!;
  }
}

/**
 * Where a PE's MRS/MSR are logged instead of raised as events. An observer that mostly counts
 * registers (the world layer, alone on its PE) gives the core one (`Cpu.sysregLog`): an access
 * then costs a store of its register's id. The registers it must see at once (`eventFor`) still
 * raise the event (the observer logs those itself); while `paused`, nothing is logged or raised.
 */
export class SysregLog {
  /** Register ids in order, `pos` of them ever: a ring of the latest `ids.length`. */
  readonly ids = new Int32Array(1 << 16);
  pos = 0;
  /** Set while the PE runs a guest (its accesses are not the hypervisor's). */
  paused = false;
  /** 1 for a register whose accesses raise the event, by id (ids past its end raise it too). */
  eventFor = new Uint8Array(0);
}

export interface CpuObserver {
  exceptionTaken?(e: ExceptionTaken): void;
  exceptionReturned?(e: ExceptionReturned): void;
  sysregAccessed?(e: SysregAccessed): void;
  /** Called for accesses to physical ranges registered with `watchPhys`. */
  memoryAccessed?(e: MemoryAccessed): void;
}

/** Fans events out to several observers; the core holds one. */
export class ObserverSet implements CpuObserver {
  private readonly list: CpuObserver[] = [];
  add(o: CpuObserver): void {
    this.list.push(o);
  }
  remove(o: CpuObserver): void {
    const i = this.list.indexOf(o);
    if (i >= 0) this.list.splice(i, 1);
  }
  get size(): number {
    return this.list.length;
  }
  exceptionTaken(e: ExceptionTaken): void {
    for (const o of this.list) o.exceptionTaken?.(e);
  }
  exceptionReturned(e: ExceptionReturned): void {
    for (const o of this.list) o.exceptionReturned?.(e);
  }
  sysregAccessed(e: SysregAccessed): void {
    for (const o of this.list) o.sysregAccessed?.(e);
  }
  memoryAccessed(e: MemoryAccessed): void {
    for (const o of this.list) o.memoryAccessed?.(e);
  }
}

/** Adds `o` to the observers of `holder` (a PE), turning a single observer into a set; returns the set. */
export function joinObservers(
  holder: { observer: CpuObserver | null; sysregLog: SysregLog | null },
  o: CpuObserver,
): ObserverSet {
  // An observer of MRS/MSR sees them all: none is logged in its place any more.
  if (o.sysregAccessed !== undefined) holder.sysregLog = null;
  const cur = holder.observer;
  let set: ObserverSet;
  if (cur instanceof ObserverSet) set = cur;
  else {
    set = new ObserverSet();
    if (cur !== null) set.add(cur);
    holder.observer = set;
  }
  set.add(o);
  return set;
}
