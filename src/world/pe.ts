// One PE as the world layer sees it: which world it runs, the vcpu loaded on it, its own
// timeline of exits and entries, and the costs of the work between them. The layer has one of
// these per PE of the machine; each is that PE's observer, and hands residency questions
// (which the vcpus of every PE share) to the World.
import type { Cpu } from '../cpu/cpu.js';
import type { CpuObserver, ExceptionReturned, ExceptionTaken, MemoryAccessed, SysregAccessed } from '../cpu/events.js';
import { HCR, SR } from '../sysregs/registry.js';
import { hex } from '../cpu/bits.js';
import { exitReason, exitingPc, vmidOf } from './reason.js';
import type { CostSums, EntryRecord, ExitRecord, LoadPutRecord, VcpuState, World } from './world.js';

/** What the hypervisor did between two points: instructions and MSR/MRS outside the guest. */
export interface Costs {
  /** Instructions retired at EL2. */
  el2Insns: number;
  /** Instructions retired outside the guest, at any EL (the host kernel of a split-mode hypervisor included). */
  hostInsns: number;
  /** MSR/MRS executed outside the guest, by register (after VHE redirection). */
  sysregs: Record<string, number>;
  sysregTotal: number;
}

/** Whether a PE runs a guest: below EL2 with stage 2 on and not under a VHE host's TGE. */
export function guestRunningOn(c: Cpu): boolean {
  return c.ps.el < 2 && ((c.hcr >>> HCR.VM) & 1) === 1 && !c.tge;
}

/** The VMID a PE's VTTBR_EL2 holds. */
export function vmidOn(c: Cpu): number {
  return vmidOf(c.sr[SR.VTTBR_EL2!]!, c.sr[SR.VTCR_EL2!]!);
}

export function newSums(): CostSums {
  return { count: 0, closed: 0, el2Insns: 0, hostInsns: 0, sysregs: 0 };
}

export function addCosts(s: CostSums, el2Insns: number, hostInsns: number, sysregs: number): void {
  s.closed++;
  s.el2Insns += el2Insns;
  s.hostInsns += hostInsns;
  s.sysregs += sysregs;
}

/** The counts of a record with no MSR/MRS yet (most exits of a busy loop have few): shared, never written. */
const NO_SYSREGS: Record<string, number> = Object.freeze({});

/** Counts one MSR/MRS of `name` into a cost record. */
function countSysreg(c: Costs, name: string): void {
  if (c.sysregTotal === 0) c.sysregs = {};
  c.sysregs[name] = (c.sysregs[name] ?? 0) + 1;
  c.sysregTotal++;
}

/** The PE's figures, for the summary's per-PE rows. */
export interface PeSums {
  readonly exits: CostSums;
  loads: number;
  puts: number;
  hazards: number;
}

export class PeWorld implements CpuObserver {
  inGuest = false;
  /** The VMID of the guest last entered on this PE. */
  vmid = 0;
  entries = 0;
  lastExit: ExitRecord | null = null;
  lastEntry: EntryRecord | null = null;
  /** The vcpu this PE runs (entered last; null in the host before the first entry, or unknown). */
  running: VcpuState | null = null;
  /** The vcpu the layout's discovery function was last entered with on this PE: the one its per-PE flags speak for. */
  current: VcpuState | null = null;
  /** Between the entry of the layout's put function and the flag store that completes it. */
  inPut = false;
  readonly sums: PeSums = { exits: newSums(), loads: 0, puts: 0, hazards: 0 };

  private el: number;
  private mark: number;
  private el2Total = 0;
  /** Costs of the current window (the open exit, since its exit) and segment (since the last world event). */
  private window: Costs | null = null;
  /** The EL2 instruction total when the current window opened. */
  private windowEl2 = 0;
  private segment: Costs = { el2Insns: 0, hostInsns: 0, sysregs: NO_SYSREGS, sysregTotal: 0 };
  private segmentStart: number;
  private el2AtSegment = 0;
  private segmentProvisional = true;
  /** Inside a hyp call from a split-mode host kernel that started while the segment was provisional. */
  private inHypCall = false;
  // VTTBR_EL2/VTCR_EL2 as last read, and the VMID they give (an entry reads them; they rarely change).
  private vttbr = -1n;
  private vtcr = -1n;
  private vmidCache = 0;

  constructor(
    readonly world: World,
    readonly cpu: Cpu,
    readonly index: number,
  ) {
    this.el = cpu.ps.el;
    this.mark = cpu.icount;
    this.segmentStart = cpu.icount;
    this.inGuest = guestRunningOn(cpu);
  }

  /** `PE2`: how messages name this PE. */
  get name(): string {
    return `PE${this.index}`;
  }

  currentVmid(): number {
    const sr = this.cpu.sr;
    const vttbr = sr[SR.VTTBR_EL2!]!,
      vtcr = sr[SR.VTCR_EL2!]!;
    if (vttbr !== this.vttbr || vtcr !== this.vtcr) {
      this.vttbr = vttbr;
      this.vtcr = vtcr;
      this.vmidCache = vmidOf(vttbr, vtcr);
    }
    return this.vmidCache;
  }

  /** The costs of the window still open (since this PE's last exit), for `monitor world`. */
  openWindow(): Costs | null {
    const x = this.lastExit;
    if (this.inGuest || x === null || x.closed || this.window === null) return null;
    this.advance();
    const c: Costs = { ...this.window, sysregs: { ...this.window.sysregs } };
    this.closeCosts(c, x.icount, this.windowEl2);
    // The instruction that exited synchronously retires after the event (the window's count
    // includes it and leaves out the closing ERET, which evens out once the window closes).
    const cat = x.reason.category;
    if (cat !== 'irq' && cat !== 'fiq' && cat !== 'serror') {
      c.el2Insns--;
      c.hostInsns--;
    }
    return c;
  }

  // --- events -----------------------------------------------------------------------------

  exceptionTaken(e: ExceptionTaken): void {
    this.advance();
    this.el = e.toEL;
    if (!this.inGuest && e.fromEL === 1 && e.toEL === 2) {
      // A split-mode host kernel calls its hyp: if that call moves registers, the call is part of the cost.
      if (this.segmentProvisional) {
        this.startSegment();
        this.inHypCall = true;
      }
      return;
    }
    if (e.toEL !== 2 || e.fromEL === 2 || !this.inGuest) return;
    // An exit: from the guest to EL2. (HCR_EL2 is unchanged by taking the exception.)
    this.inGuest = false;
    const w = this.world;
    w.exitTaken(this);
    const sr = this.cpu.sr;
    const reason = exitReason(e.kind, e.esr, sr[SR.FAR_EL2!]!, sr[SR.HPFAR_EL2!]!);
    // The record is the window: its costs grow until the next entry closes it.
    const exit: ExitRecord = {
      n: ++w.exits,
      pe: this.index,
      vmid: this.vmid,
      vcpu: this.running?.bound.name ?? null,
      pc: exitingPc(e.kind, e.esr, e.elr),
      reason,
      icount: this.cpu.icount,
      closed: false,
      el2Insns: 0,
      hostInsns: 0,
      sysregs: NO_SYSREGS,
      sysregTotal: 0,
    };
    this.window = exit;
    this.windowEl2 = this.el2Total;
    this.lastExit = w.lastExit = exit;
    this.sums.exits.count++;
    w.exitOpened(exit);
    this.startSegment();
    w.emit({ type: 'exit', exit });
    if (w.catches.size !== 0 && w.catches.has('exit')) w.stop(describeExit(exit), this);
  }

  exceptionReturned(e: ExceptionReturned): void {
    this.advance();
    this.el = e.toEL;
    this.inHypCall = false;
    if (e.fromEL !== 2 || e.toEL === 2 || !guestRunningOn(this.cpu)) return;
    this.inGuest = true;
    this.vmid = this.currentVmid();
    const w = this.world;
    const x = this.lastExit;
    const closed = x !== null && !x.closed ? x : null;
    if (closed !== null) {
      this.closeCosts(closed, closed.icount, this.windowEl2);
      closed.closed = true;
      this.window = null;
      addCosts(this.sums.exits, closed.el2Insns, closed.hostInsns, closed.sysregTotal);
      w.exitClosed(closed);
    }
    if (w.vcpus.length > 0) w.entered(this);
    const entry: EntryRecord = {
      n: ++w.entries,
      pe: this.index,
      vmid: this.vmid,
      vcpu: this.running?.bound.name ?? null,
      pc: e.pc,
      eretPc: this.cpu.pcs[1]!,
      icount: this.cpu.icount,
    };
    this.entries++;
    this.lastEntry = w.lastEntry = entry;
    this.startSegment();
    w.emit({ type: 'entry', entry, closed });
    if (w.catches.size !== 0 && w.catches.has('entry')) w.stop(describeEntry(entry), this);
  }

  sysregAccessed(e: SysregAccessed): void {
    if (this.inGuest) return;
    const name = e.reg.name;
    // At EL2 only: a split-mode host kernel's EL1 accesses are its own registers, not a vcpu's.
    if (this.el === 2 && this.world.governs(e.reg.aliasOf ?? name)) this.governedAccess();
    if (this.window !== null) countSysreg(this.window, name);
    countSysreg(this.segment, name);
  }

  memoryAccessed(e: MemoryAccessed): void {
    this.world.memoryAccessed(this, e);
  }

  // --- spans ------------------------------------------------------------------------------

  /** The entry of the layout's load or put function: the span it is charged with starts here. */
  functionEntered(which: 'load' | 'put'): void {
    if (this.inGuest) return;
    this.startSegment(false);
    this.inPut = which === 'put';
  }

  /**
   * The start of a load's or put's span when the layout names no functions: the first access
   * of a governed register, on the CPU (MSR/MRS) or as a slot read (a put starts by reading the
   * CPU, a load by reading the slots; initialising a context only writes slots).
   */
  governedAccess(): void {
    if (!this.segmentProvisional || this.inGuest) return;
    if (this.inHypCall)
      this.segmentProvisional = false; // charged from the hyp call's start
    else this.startSegment(false);
  }

  /** Closes the span a load or put is charged with into `record` and starts the next one. */
  closeLoadPut(type: 'load' | 'put', vcpu: string, flag: string, pc: bigint): LoadPutRecord {
    this.advance();
    const s = this.segment;
    const record: LoadPutRecord = {
      type,
      pe: this.index,
      vcpu,
      flag,
      pc,
      icount: this.cpu.icount,
      el2Insns: 0,
      hostInsns: 0,
      sysregs: s.sysregs,
      sysregTotal: s.sysregTotal,
    };
    this.closeCosts(record, this.segmentStart, this.el2AtSegment);
    if (type === 'load') this.sums.loads++;
    else this.sums.puts++;
    this.startSegment();
    return record;
  }

  /** Brings the EL2 instruction total up to date (before reading costs from inside an event). */
  advance(): void {
    const now = this.cpu.icount;
    if (now < this.mark) this.restarted();
    if (this.el === 2) this.el2Total += now - this.mark;
    this.mark = now;
  }

  /**
   * The instruction count went backwards: the PE was reset (`monitor reset`, PSCI reset or
   * CPU_ON). It restarted in the host at EL2 with nothing loaded; the records so far stay.
   */
  private restarted(): void {
    this.mark = 0;
    this.el = 2;
    this.inGuest = false;
    this.running = null;
    this.current = null;
    this.world.peRestarted(this);
    if (this.lastExit) this.lastExit.closed = true;
    this.window = null;
    this.startSegment();
  }

  /** Closes the costs of a span that started at icount `start` with EL2 total `el2Start`. */
  private closeCosts(c: Costs, start: number, el2Start: number): void {
    c.el2Insns = this.el2Total - el2Start;
    c.hostInsns = this.cpu.icount - start;
  }

  /**
   * Starts the span a load or put is charged with. A world event starts one provisionally; the
   * first access to a flag-governed context slot after it starts it again (or the hyp call
   * that access is in, for a split-mode host), so that a load or put is charged with moving
   * its registers up to its flag store, not with the exit handling or entry/exit switching
   * that came before.
   */
  private startSegment(provisional = true): void {
    if (!provisional) this.advance();
    const s = this.segment;
    // The counts object may now be a load's or put's: the next count starts another.
    if (s.sysregTotal !== 0) {
      s.sysregs = NO_SYSREGS;
      s.sysregTotal = 0;
    }
    this.segmentStart = this.cpu.icount;
    this.el2AtSegment = this.el2Total;
    this.segmentProvisional = provisional;
  }
}

export function describeExit(x: ExitRecord): string {
  return (
    `[hypstep] PE${x.pe}: guest exit #${x.n} vmid ${x.vmid}${x.vcpu ? ` (${x.vcpu})` : ''}: ${x.reason.text} at ${hex(x.pc)}` +
    (x.reason.category === 'irq' || x.reason.category === 'fiq' ? '' : ` (ESR_EL2 ${hex(x.reason.esr)})`)
  );
}

export function describeEntry(e: EntryRecord): string {
  return `[hypstep] PE${e.pe}: guest entry #${e.n} vmid ${e.vmid}${e.vcpu ? ` (${e.vcpu})` : ''} at ${hex(e.pc)} (ERET at ${hex(e.eretPc)})`;
}
