// One PE as the world layer sees it: which world it runs, the vcpu loaded on it, its own
// timeline of exits and entries, and the costs of the work between them. The layer has one of
// these per PE of the machine; each is that PE's observer, and hands residency questions
// (which the vcpus of every PE share) to the World.
import type { Cpu } from '../cpu/cpu.js';
import {
  SysregLog,
  type CpuObserver,
  type ExceptionReturned,
  type ExceptionTaken,
  type MemoryAccessed,
  type SysregAccessed,
} from '../cpu/events.js';
import { HCR, SR, type SysregSpec } from '../sysregs/registry.js';
import { hex, joined } from '../cpu/bits.js';
import { CATEGORIES, ExitClass, decodeExit, exitClass, vmidOf, type ExitCategory } from './reason.js';
import type { Exit } from './history.js';
import type { CostSums, EntryRecord, ExitRecord, LoadPutRecord, VcpuState, World } from './world.js';

/** What the hypervisor did between two points, as the records show it. */
export interface CostFigures {
  /** Instructions retired at EL2. */
  readonly el2Insns: number;
  /** Instructions retired outside the guest, at any EL (the host kernel of a split-mode hypervisor included). */
  readonly hostInsns: number;
  readonly sysregTotal: number;
  /** The MSR/MRS registers in order (after VHE redirection). */
  readonly regs: SysregSpec[];
  /** MSR/MRS by register. */
  readonly sysregs: Record<string, number>;
}

/** MSR/MRS by register name, from the registers in order. */
export function countedByName(regs: readonly SysregSpec[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of regs) out[r.name] = (out[r.name] ?? 0) + 1;
  return out;
}

/** What the hypervisor did between two points: instructions and MSR/MRS outside the guest. */
export class Costs implements CostFigures {
  /** Instructions retired at EL2. */
  el2Insns = 0;
  /** Instructions retired outside the guest, at any EL (the host kernel of a split-mode hypervisor included). */
  hostInsns = 0;
  /** The register of each MSR/MRS, in order (after VHE redirection). */
  readonly regs: SysregSpec[] = [];

  get sysregTotal(): number {
    return this.regs.length;
  }

  /** MSR/MRS by register. */
  get sysregs(): Record<string, number> {
    return countedByName(this.regs);
  }
}

class LoadPut extends Costs implements LoadPutRecord {
  constructor(
    readonly type: 'load' | 'put',
    readonly pe: number,
    readonly vcpu: string,
    readonly flag: string,
    readonly pc: bigint,
    readonly icount: number,
  ) {
    super();
  }
}

/** Whether a PE runs a guest: below EL2 with stage 2 on and not under a VHE host's TGE. */
export function guestRunningOn(c: Cpu): boolean {
  // `=== false`: a boolean field's plain negation is a generic truthiness test in optimised code.
  return c.ps.el < 2 && ((c.hcr >>> HCR.VM) & 1) === 1 && c.tge === false;
}

/** The VMID a PE's VTTBR_EL2 holds. */
export function vmidOn(c: Cpu): number {
  return vmidOf(c.sr[SR.VTTBR_EL2!]!, c.sr[SR.VTCR_EL2!]!);
}

// The 32-bit halves of VTTBR_EL2, VTCR_EL2 and ELR_EL2 in the system-register file, read without making a BigInt.
const VTTBR_HI = 2 * SR.VTTBR_EL2! + 1;
const ELR_EL2_LO = 2 * SR.ELR_EL2!;
const VTCR_LO = 2 * SR.VTCR_EL2!;
const SCTLR_EL2_LO = 2 * SR.SCTLR_EL2!;

export function newSums(): CostSums {
  return { count: 0, closed: 0, el2Insns: 0, hostInsns: 0, sysregs: 0 };
}

/** `s` plus the records `t` sums up. */
export function addSums(s: CostSums, t: CostSums): void {
  s.count += t.count;
  s.closed += t.closed;
  s.el2Insns += t.el2Insns;
  s.hostInsns += t.hostInsns;
  s.sysregs += t.sysregs;
}

export function addCosts(s: CostSums, el2Insns: number, hostInsns: number, sysregs: number): void {
  s.closed++;
  s.el2Insns += el2Insns;
  s.hostInsns += hostInsns;
  s.sysregs += sysregs;
}

/** The PE's figures, for the summary's per-PE rows (summed when asked: keep them off the exit path). */
export interface PeSums {
  readonly exits: CostSums;
  /** `exits.count`, without making the sums. */
  readonly exitCount: number;
  loads: number;
  puts: number;
  hazards: number;
}

/** A PE's figures: its exits summed from its sums by category when asked. */
class PeCounts implements PeSums {
  loads = 0;
  puts = 0;
  hazards = 0;
  constructor(private readonly pe: PeWorld) {}
  get exits(): CostSums {
    const s = newSums();
    for (const c of this.pe.byReason.values()) addSums(s, c);
    return s;
  }
  get exitCount(): number {
    let n = 0;
    for (const c of this.pe.byReason.values()) n += c.count;
    return n;
  }
}

// Numbers the exit path uses, as literals in the built code (a module's constant is a load and a check).
const enum K {
  /**
   * An exit category's running sums in `PeWorld.catSums`: exits whose window never closed (a
   * reset), closed ones, el2Insns, hostInsns, sysregs. (The count adds the open one.)
   */
  SUMS = 5,
}

export class PeWorld implements CpuObserver {
  /** The VMID of the guest last entered on this PE. */
  vmid = 0;
  entries = 0;
  /** The vcpu this PE runs (entered last; null in the host before the first entry, or unknown). */
  running: VcpuState | null = null;
  /** The vcpu the layout's discovery function was last entered with on this PE: the one its per-PE flags speak for. */
  current: VcpuState | null = null;
  /** The vcpu the world found by its VMID alone at this PE's last entry, for which VMID and version of its vcpus. */
  identifiedVcpu: VcpuState | null = null;
  identifiedVmid = 0;
  identifiedVersion = 0;
  /** Between the entry of the layout's put function and the flag store that completes it. */
  inPut = false;
  /** Whether the host ran below EL2 since this PE's last exit (a split-mode host kernel, or a VHE host's EL0). */
  leftEl2 = false;
  /** This PE's exits by category (`exitClass`), K.SUMS numbers each: the running sums the exit path adds to. */
  private readonly catSums = new Float64Array(CATEGORIES.length * K.SUMS);
  readonly sums: PeSums = new PeCounts(this);
  /**
   * The MSR/MRS outside a guest, in order: a window's or a segment's registers are a range of it
   * (the records of the exits in the log read theirs here). The core logs those no check needs
   * at once itself (`Cpu.sysregLog`, while this view is its PE's only observer).
   */
  readonly log = new SysregLog();
  /**
   * The last entry here that left a clean verdict and nothing switched to track: its VMID (-1:
   * none), and the world's `version` and the bus's `pokes` then. While all three are the same,
   * an entry here is the same entry, and the world's entry check (`World.entered`) is skipped.
   */
  steadyVmid = -1;
  steadyVersion = 0;
  steadyPokes = 0;
  /** The MMU's epoch when the world last tried to place its layout at an exit here. */
  placeEpoch = -1;
  /** This PE's last exit (null before the first). */
  private last: Exit | null = null;
  /** Whether that exit's window is open (no entry since), and its category. */
  private open = false;
  private openCat = 0;

  private el: number;
  private mark: number;
  private el2Total = 0;
  /** The EL2 instruction total when the current window opened. */
  private windowEl2 = 0;
  /** Where the segment's MSR/MRS start in the register log. */
  private segmentRegs = 0;
  private segmentStart: number;
  private el2AtSegment = 0;
  private segmentProvisional = true;
  /** Inside a hyp call from a split-mode host kernel that started while the segment was provisional. */
  private inHypCall = false;
  /** The PE's system registers as 32-bit words (VTTBR_EL2's VMID is read at every entry). */
  readonly sr32: Uint32Array;
  // Where the exit and entry read in `sr32`, as fields of this object (each is then one load).
  private readonly vttbrHi = VTTBR_HI;
  private readonly vtcrLo = VTCR_LO;
  private readonly elrLo = ELR_EL2_LO;
  /** The last entry's figures; its record is made when someone asks for it. */
  private entryN = 0;
  /** The entry's vcpu, as the exit log names it (-1: none). */
  private entryVcpu = -1;
  /** The ERET's address and the entry's PC as int32 halves (no BigInt made at each entry). */
  private eretLo = 0;
  private eretHi = 0;
  private pcLo = 0;
  private pcHi = 0;
  private entryIcount = 0;
  private entryRecord: EntryRecord | null = null;

  constructor(
    readonly world: World,
    readonly cpu: Cpu,
    readonly index: number,
  ) {
    this.el = cpu.ps.el;
    this.mark = cpu.icount;
    this.segmentStart = cpu.icount;
    this.inGuest = guestRunningOn(cpu);
    this.sr32 = new Uint32Array(cpu.sr.buffer, cpu.sr.byteOffset, cpu.sr.length * 2);
  }

  /** SCTLR_EL2.M: the hypervisor runs translated (read without making a BigInt: it is asked at every exit). */
  el2MmuOn(): boolean {
    return (this.sr32[SCTLR_EL2_LO]! & 1) !== 0;
  }

  /** The last entry on this PE (null before the first). */
  get lastEntry(): EntryRecord | null {
    if (this.entryRecord === null && this.entryN !== 0)
      this.entryRecord = {
        n: this.entryN,
        pe: this.index,
        vmid: this.vmid,
        vcpu: this.world.recent.exits.name(this.entryVcpu),
        pc: joined(this.pcLo, this.pcHi),
        eretPc: joined(this.eretLo, this.eretHi),
        icount: this.entryIcount,
      };
    return this.entryRecord;
  }

  /** `PE2`: how messages name this PE. */
  get name(): string {
    return `PE${this.index}`;
  }

  /** VTTBR_EL2.VMID: bits [63:48] with VTCR_EL2.VS (bit 19), else [55:48] (as `vmidOf`). */
  currentVmid(): number {
    const hi = this.sr32[this.vttbrHi]! >>> 16;
    return (this.sr32[this.vtcrLo]! >>> 19) & 1 ? hi : hi & 0xff;
  }

  /** The last exit on this PE (null before the first). */
  get lastExit(): ExitRecord | null {
    return this.last;
  }

  /** The sums of this PE's exits of category `cat` (undefined when it had none). */
  sumsOf(cat: ExitCategory): CostSums | undefined {
    const k = CATEGORIES.indexOf(cat);
    const t = this.catSums,
      at = k * K.SUMS;
    const count = t[at]! + t[at + 1]! + (this.open && this.openCat === k ? 1 : 0);
    if (count === 0) return undefined;
    return { count, closed: t[at + 1]!, el2Insns: t[at + 2]!, hostInsns: t[at + 3]!, sysregs: t[at + 4]! };
  }

  /** This PE's exits by category, in the order the world first saw the categories. */
  get byReason(): Map<ExitCategory, CostSums> {
    const m = new Map<ExitCategory, CostSums>();
    for (const cat of this.world.categories) {
      const s = this.sumsOf(cat);
      if (s !== undefined) m.set(cat, s);
    }
    return m;
  }

  /** Whether this PE runs a guest (the log then pauses: its MSR/MRS are not the hypervisor's). */
  get inGuest(): boolean {
    return this.log.paused;
  }
  set inGuest(v: boolean) {
    this.log.paused = v;
  }

  /** How many MSR/MRS outside a guest were logged. */
  get regPos(): number {
    return this.log.pos;
  }

  /** `count` registers logged from the `start`th on (those the log still holds). */
  loggedRegs(start: number, count: number): SysregSpec[] {
    const out: SysregSpec[] = [];
    for (let k = this.heldFrom(start); k < start + count; k++) out.push(this.loggedReg(k));
    return out;
  }

  /** The first of the registers logged from the `start`th on that the log (a ring) still holds. */
  private heldFrom(start: number): number {
    return Math.max(start, this.log.pos - this.log.ids.length);
  }

  /** The `k`th register logged (one the log still holds). */
  private loggedReg(k: number): SysregSpec {
    return this.cpu.sysregs.byId(this.loggedId(k));
  }

  /** The id of the `k`th register logged. */
  private loggedId(k: number): number {
    const ids = this.log.ids;
    return ids[k & (ids.length - 1)]!;
  }

  /** The costs of the window still open (since this PE's last exit), for `monitor world`. */
  openWindow(): Costs | null {
    const x = this.last;
    if (this.inGuest || !this.open || x === null) return null;
    this.advance();
    const c = new Costs();
    c.regs.push(...x.regs);
    this.closeCosts(c, x.icount, this.windowEl2);
    // The instruction that exited synchronously retires after the event (the window's count
    // includes it and leaves out the closing ERET, which evens out once the window closes).
    const cat = CATEGORIES[this.openCat];
    if (cat !== 'irq' && cat !== 'fiq' && cat !== 'serror') {
      c.el2Insns--;
      c.hostInsns--;
    }
    return c;
  }

  // --- events -----------------------------------------------------------------------------

  exceptionTaken(e: ExceptionTaken): void {
    this.advance();
    const fromEL = e.fromEL,
      toEL = e.toEL;
    this.el = toEL;
    if (this.inGuest === false) {
      // A split-mode host kernel calls its hyp: if that call moves registers, the call is part of the cost.
      if (fromEL === 1 && toEL === 2 && this.segmentProvisional === true) {
        this.startSegment();
        this.inHypCall = true;
      }
      return;
    }
    if (toEL !== 2 || fromEL === 2) return;
    // An exit: from the guest to EL2. (HCR_EL2 is unchanged by taking the exception.)
    this.inGuest = false;
    this.leftEl2 = false;
    const w = this.world;
    if (w.anySwitched === true) w.switchedAtExit(this);
    if (w.placing === true && this.cpu.mmu.epoch !== this.placeEpoch) w.placeAgain(this);
    const kind = e.kind,
      esr = e.esr;
    const exits = w.recent.exits;
    const x = exits.take();
    const v = this.running;
    x.n = ++w.exits;
    x.pe = this.index;
    x.vmid = this.vmid;
    x.vcpuId = v === null ? -1 : v.nameId;
    x.kind = kind;
    x.esr = esr;
    x.elrLo = this.sr32[this.elrLo]! | 0;
    x.elrHi = this.sr32[this.elrLo + 1]! | 0;
    x.icount = this.cpu.icount;
    x.regStart = this.regPos;
    x.closed = false;
    // The reason is decoded from these numbers when read, unless its text needs more.
    x.decoded = null;
    const c = exitClass(kind, esr);
    if (kind === 1 || kind === 2 ? w.interruptSource !== null : (c & ExitClass.NAMES_ADDRESS) !== 0) {
      const irq = kind === 0 ? undefined : w.interruptSource!(this.index, kind);
      const sr = this.cpu.sr;
      if (kind === 0 || irq !== undefined) x.decoded = decodeExit(kind, esr, sr[SR.FAR_EL2!]!, sr[SR.HPFAR_EL2!]!, irq);
    }
    exits.last(this.last, x);
    this.last = x;
    const cat = c & ExitClass.CATEGORY;
    this.open = true;
    this.openCat = cat;
    this.windowEl2 = this.el2Total;
    w.lastExitPe = this.index;
    if (w.categorySeen[cat] === 0) w.sawCategory(cat);
    this.startSegment();
    if (w.wanted.exit !== 0) w.emit({ type: 'exit', exit: exits.hold(x) });
    if (w.catches.size !== 0 && w.catches.has('exit')) w.stop(describeExit(x), this);
  }

  exceptionReturned(e: ExceptionReturned): void {
    this.advance();
    const toEL = e.toEL;
    this.el = toEL;
    this.inHypCall = false;
    if (e.fromEL !== 2 || toEL === 2) return;
    const cpu = this.cpu;
    if (!guestRunningOn(cpu)) {
      this.leftEl2 = true;
      return;
    }
    this.inGuest = true;
    this.vmid = this.currentVmid();
    const w = this.world;
    const closed = this.open === true ? this.last : null;
    if (closed !== null) {
      const el2Insns = this.el2Total - this.windowEl2,
        hostInsns = cpu.icount - closed.icount,
        regs = this.regPos - closed.regStart;
      if (regs !== 0) this.countRegs(closed.regStart);
      closed.closed = true;
      closed.el2Insns = el2Insns;
      closed.hostInsns = hostInsns;
      closed.regCount = regs;
      const t = this.catSums,
        at = this.openCat * K.SUMS;
      t[at + 1]! += 1;
      t[at + 2]! += el2Insns;
      t[at + 3]! += hostInsns;
      t[at + 4]! += regs;
      this.open = false;
    }
    if (this.steadyVmid !== this.vmid || this.steadyVersion !== w.version || this.steadyPokes !== cpu.bus.pokes)
      w.entered(this);
    this.entryN = ++w.entries;
    this.entryVcpu = this.running === null ? -1 : this.running.nameId;
    // The ERET's address and the return address (the event's PC) as the PE's PC halves hold them.
    const pcs32 = cpu.pcs32;
    this.eretLo = pcs32[2]! | 0;
    this.eretHi = pcs32[3]! | 0;
    this.pcLo = pcs32[0]! | 0;
    this.pcHi = pcs32[1]! | 0;
    this.entryIcount = cpu.icount;
    this.entryRecord = null;
    this.entries++;
    w.lastEntryPe = this.index;
    this.startSegment();
    if (w.wanted.entry !== 0)
      w.emit({ type: 'entry', entry: this.lastEntry!, closed: closed === null ? null : w.recent.exits.hold(closed) });
    if (w.catches.size !== 0 && w.catches.has('entry')) w.stop(describeEntry(this.lastEntry!), this);
  }

  sysregAccessed(e: SysregAccessed): void {
    if (this.inGuest === true) return;
    const w = this.world;
    const reg = e.reg;
    if (w.anySwitched === true && e.write === true && this.el === 2 && w.switchedRegs.has(reg.id))
      w.switchedWritten(this, e);
    if (w.anyGoverned === true) {
      // At EL2 only: a split-mode host kernel's EL1 accesses are its own registers, not a vcpu's.
      if (this.el === 2 && w.governs(reg)) this.governedAccess();
    }
    const log = this.log;
    log.ids[log.pos++ & (log.ids.length - 1)] = reg.id;
  }

  /** A window closed: its registers, from the `start`th logged on, join the closed windows' counts. */
  private countRegs(start: number): void {
    const counts = this.world.windowRegs;
    const sysregs = this.cpu.sysregs;
    for (let k = this.heldFrom(start), end = this.log.pos; k < end; k++) counts.addId(this.loggedId(k), sysregs);
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
    const record = new LoadPut(type, this.index, vcpu, flag, pc, this.cpu.icount);
    record.regs.push(...this.loggedRegs(this.segmentRegs, this.regPos - this.segmentRegs));
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
    const x = this.last;
    if (this.open && x !== null) {
      // Its open window never closes: its record keeps its registers without costs (not counted
      // with the closed windows' ones).
      x.closed = true;
      x.el2Insns = x.hostInsns = 0;
      x.regCount = this.regPos - x.regStart;
      this.catSums[this.openCat * K.SUMS]! += 1;
      this.open = false;
    }
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
    this.segmentRegs = this.regPos;
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
