// One PE as the world layer sees it: which world it runs, the vcpu loaded on it, its own
// timeline of exits and entries, and the costs of the work between them. The layer has one of
// these per PE of the machine; each is that PE's observer, and hands residency questions
// (which the vcpus of every PE share) to the World.
import type { Cpu } from '../cpu/cpu.js';
import type { CpuObserver, ExceptionReturned, ExceptionTaken, MemoryAccessed, SysregAccessed } from '../cpu/events.js';
import { HCR, SR, type SysregSpec } from '../sysregs/registry.js';
import { hex } from '../cpu/bits.js';
import { exitReason, vmidOf, type ExitCategory, type ExitReason } from './reason.js';
import type { CostSums, EntryRecord, ExitRecord, LoadPutRecord, VcpuState, World } from './world.js';

/**
 * What the hypervisor did between two points: instructions and MSR/MRS outside the guest. The
 * registers are kept as accessed and counted by name only when someone asks (the exit path
 * stays free of string-keyed objects).
 */
export class Costs {
  /** Instructions retired at EL2. */
  el2Insns = 0;
  /** Instructions retired outside the guest, at any EL (the host kernel of a split-mode hypervisor included). */
  hostInsns = 0;
  sysregTotal = 0;
  /**
   * The register of each MSR/MRS, in order (after VHE redirection), in its first `sysregTotal`
   * places: the first two in the record itself, the rest in a list that outlives a reset of the
   * costs (the exit path reuses records; most windows have a register or two, and a reused
   * record's own fields are the only memory such an exit touches).
   */
  private r0: SysregSpec | null = null;
  private r1: SysregSpec | null = null;
  private more: SysregSpec[] | null = null;

  private reg(i: number): SysregSpec {
    return i === 0 ? this.r0! : i === 1 ? this.r1! : this.more![i - 2]!;
  }

  /** The MSR/MRS registers in order. */
  get regs(): SysregSpec[] {
    const out: SysregSpec[] = [];
    for (let i = 0; i < this.sysregTotal; i++) out.push(this.reg(i));
    return out;
  }

  /** MSR/MRS by register. */
  get sysregs(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < this.sysregTotal; i++) out[this.reg(i).name] = (out[this.reg(i).name] ?? 0) + 1;
    return out;
  }

  count(reg: SysregSpec): void {
    const i = this.sysregTotal++;
    if (i === 0) this.r0 = reg;
    else if (i === 1) this.r1 = reg;
    else (this.more ??= [])[i - 2] = reg;
  }

  /** `counts` plus this one's registers (`n` = -1: minus them). */
  addRegsTo(counts: { add(reg: SysregSpec, n: number): void }, n = 1): void {
    for (let i = 0; i < this.sysregTotal; i++) counts.add(this.reg(i), n);
  }

  /** This one's registers, in order, counted again into `c` (which had none). */
  copyRegsTo(c: Costs): void {
    for (let i = 0; i < this.sysregTotal; i++) c.count(this.reg(i));
  }
}

/**
 * An exit; the costs of its window grow until the next entry on its PE closes it. The layer
 * keeps the most recent ones in a ring; one that leaves the ring unseen (no listener, no PE's
 * last exit, no copy of the ring handed out) is filled in again for a later exit, so that the
 * exit path allocates nothing once the ring is full.
 */
export class Exit extends Costs implements ExitRecord {
  closed = false;
  /** Handed out (to a listener or a caller of the ring): never filled in again. */
  escaped = false;
  /** Its slot in the ring of recent exits (-1 before it is put there). */
  slot = -1;
  n = 0;
  pe = 0;
  vmid = 0;
  vcpu: string | null = null;
  /**
   * The preferred return address (ELR_EL2) as int32 halves: no BigInt in the record (nor a typed
   * array, which would be a cold line more at each reuse).
   */
  private elrLo = 0;
  private elrHi = 0;
  reason!: ExitReason;
  icount = 0;

  /** The record made for an exit, new or filled in again (its register list reused). */
  refill(
    n: number,
    pe: number,
    vmid: number,
    vcpu: string | null,
    elrLo: number,
    elrHi: number,
    reason: ExitReason,
    icount: number,
  ): this {
    this.n = n;
    this.pe = pe;
    this.vmid = vmid;
    this.vcpu = vcpu;
    this.elrLo = elrLo;
    this.elrHi = elrHi;
    this.reason = reason;
    this.icount = icount;
    this.closed = false;
    this.el2Insns = 0;
    this.hostInsns = 0;
    this.sysregTotal = 0;
    return this;
  }

  /** The instruction that exited: an HVC's preferred return is the next one. */
  get pc(): bigint {
    HALVES[0] = this.elrLo;
    HALVES[1] = this.elrHi;
    const elr = WORD[0]!;
    return this.reason.category === 'hvc' ? BigInt.asUintN(64, elr - 4n) : elr;
  }
}

/** Scratch through which a 64-bit address is joined from int32 halves. */
const WORD = new BigUint64Array(1);
const HALVES = new Int32Array(WORD.buffer);

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
  constructor(private readonly byReason: ReadonlyMap<ExitCategory, CostSums>) {}
  get exits(): CostSums {
    const s = newSums();
    for (const c of this.byReason.values()) addSums(s, c);
    return s;
  }
  get exitCount(): number {
    let n = 0;
    for (const c of this.byReason.values()) n += c.count;
    return n;
  }
}

export class PeWorld implements CpuObserver {
  inGuest = false;
  /** The VMID of the guest last entered on this PE. */
  vmid = 0;
  entries = 0;
  lastExit: Exit | null = null;
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
  /** This PE's exits by category: the one set of running sums the exit path adds to. */
  readonly byReason = new Map<ExitCategory, CostSums>();
  readonly sums: PeSums = new PeCounts(this.byReason);
  /** The sums of the category asked last (a run's exits are mostly of a kind). */
  private lastCategory: ExitCategory | null = null;
  private lastCategorySums: CostSums = newSums();

  private el: number;
  private mark: number;
  private el2Total = 0;
  /** Costs of the current window (the open exit, since its exit) and segment (since the last world event). */
  private window: Costs | null = null;
  /** The EL2 instruction total when the current window opened. */
  private windowEl2 = 0;
  private readonly segment = new Costs();
  private segmentStart: number;
  private el2AtSegment = 0;
  private segmentProvisional = true;
  /** Inside a hyp call from a split-mode host kernel that started while the segment was provisional. */
  private inHypCall = false;
  /** The PE's system registers as 32-bit words (VTTBR_EL2's VMID is read at every entry). */
  readonly sr32: Uint32Array;
  /** The last entry's figures; its record is made when someone asks for it. */
  private entryN = 0;
  private entryVcpu: string | null = null;
  /** The ERET's address (written as int32 halves: no BigInt made at each entry) and the entry's PC. */
  private readonly eret64 = new BigUint64Array(2);
  private readonly eret32 = new Int32Array(this.eret64.buffer);
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
        vcpu: this.entryVcpu,
        pc: this.eret64[1]!,
        eretPc: this.eret64[0]!,
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
    const hi = this.sr32[VTTBR_HI]! >>> 16;
    return (this.sr32[VTCR_LO]! >>> 19) & 1 ? hi : hi & 0xff;
  }

  /** The costs of the window still open (since this PE's last exit), for `monitor world`. */
  openWindow(): Costs | null {
    const x = this.lastExit;
    if (this.inGuest || x === null || x.closed || this.window === null) return null;
    this.advance();
    const c = new Costs();
    this.window.copyRegsTo(c);
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
    if (w.exitWork === true) w.exitTaken(this);
    const kind = e.kind;
    const irq = kind === 1 || kind === 2 ? w.interruptSource?.(this.index, kind) : undefined;
    const reason = exitReason(kind, e.esr, this.cpu.sr, irq);
    // The record is the window: its costs grow until the next entry closes it.
    const exit = (w.reusableExit() ?? new Exit()).refill(
      ++w.exits,
      this.index,
      this.vmid,
      this.running?.bound.name ?? null,
      this.sr32[ELR_EL2_LO]! | 0,
      this.sr32[ELR_EL2_LO + 1]! | 0,
      reason,
      this.cpu.icount,
    );
    this.window = exit;
    this.windowEl2 = this.el2Total;
    this.lastExit = w.lastExit = exit;
    this.sumsOf(reason.category).count++;
    w.recent.exits.push(exit);
    this.startSegment();
    if (w.wanted.exit !== 0) {
      w.recent.exits.escape(exit);
      w.emit({ type: 'exit', exit });
    }
    if (w.catches.size !== 0 && w.catches.has('exit')) w.stop(describeExit(exit), this);
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
    const x = this.lastExit;
    const closed = x !== null && x.closed === false ? x : null;
    if (closed !== null) {
      this.closeCosts(closed, closed.icount, this.windowEl2);
      closed.closed = true;
      this.window = null;
      addCosts(this.sumsOf(closed.reason.category), closed.el2Insns, closed.hostInsns, closed.sysregTotal);
    }
    if (w.vcpus.length > 0) w.entered(this);
    this.entryN = ++w.entries;
    this.entryVcpu = this.running?.bound.name ?? null;
    // The ERET's address and the return address (the event's PC) as the PE's PC halves hold them.
    const pcs32 = cpu.pcs32;
    this.eret32[0] = pcs32[2]!;
    this.eret32[1] = pcs32[3]!;
    this.eret32[2] = pcs32[0]!;
    this.eret32[3] = pcs32[1]!;
    this.entryIcount = cpu.icount;
    this.entryRecord = null;
    this.entries++;
    w.lastEntered = this;
    this.startSegment();
    if (w.wanted.entry !== 0) {
      if (closed !== null) w.recent.exits.escape(closed);
      w.emit({ type: 'entry', entry: this.lastEntry!, closed });
    }
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
      // Loads and puts, charged with the segment, need a layout with flags.
      this.segment.count(reg);
    }
    const window = this.window;
    if (window !== null) {
      window.count(reg);
      w.windowRegs.add(reg);
    }
  }

  /** `counts` plus the registers of this PE's open window (`n` = -1: minus them). */
  openRegsTo(counts: { add(reg: SysregSpec, n: number): void }, n: number): void {
    this.window?.addRegsTo(counts, n);
  }

  /** The sums of this PE's exits of category `cat`. */
  private sumsOf(cat: ExitCategory): CostSums {
    if (cat === this.lastCategory) return this.lastCategorySums;
    let sums = this.byReason.get(cat);
    if (sums === undefined) {
      this.byReason.set(cat, (sums = newSums()));
      if (!this.world.categories.includes(cat)) this.world.categories.push(cat);
    }
    this.lastCategory = cat;
    return (this.lastCategorySums = sums);
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
    const record = new LoadPut(type, this.index, vcpu, flag, pc, this.cpu.icount);
    s.copyRegsTo(record);
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
    // Its open window never closes: its registers leave the counts of closed windows' ones.
    this.openRegsTo(this.world.windowRegs, -1);
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
    s.sysregTotal = 0;
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
