// The architectural events the core raises to observers (the world layer, the debugger).
// The core only checks `cpu.observer !== null`; with nobody listening that is the whole cost.
// An exception's or an MRS/MSR's event object is the core's, filled in again for the next one
// (these are on every world switch): an observer reads it during its call and copies what it keeps.
import type { SysregSpec } from '../sysregs/registry.js';

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
export function joinObservers(holder: { observer: CpuObserver | null }, o: CpuObserver): ObserverSet {
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
