// The world-switch layer: an observer of architectural events that knows when the CPU runs a
// guest and when the hypervisor, numbers and decodes every exit, accounts the hypervisor's
// work per exit, and — given a vcpu layout — tracks where each guest sysreg lives and checks
// the hypervisor's accesses to the vcpu context against that.
import { hex } from '../cpu/bits.js';
import type { Cpu } from '../cpu/cpu.js';
import {
  ObserverSet,
  type CpuObserver,
  type ExceptionReturned,
  type ExceptionTaken,
  type MemoryAccessed,
  type SysregAccessed,
} from '../cpu/events.js';
import { HCR, SR } from '../sysregs/registry.js';
import { readSysreg } from '../sysregs/access.js';
import { decodeExit, exitingPc, vmidOf, type ExitCategory, type ExitReason } from './reason.js';
import {
  LayoutError,
  canonicalName,
  type BoundFlag,
  type BoundSlot,
  type BoundVcpu,
  type VcpuLayout,
} from './layout.js';
import type { Locate } from '../loader/locate.js';
import { Recent } from './history.js';

export interface Costs {
  /** Instructions retired at EL2. */
  el2Insns: number;
  /** Instructions retired outside the guest, at any EL (the host kernel of a split-mode hypervisor included). */
  hostInsns: number;
  /** MSR/MRS executed outside the guest, by register (after VHE redirection). */
  sysregs: Record<string, number>;
  sysregTotal: number;
}

export interface ExitRecord extends Costs {
  readonly n: number;
  readonly vmid: number;
  readonly vcpu: string | null;
  /** The guest instruction that exited (for IRQ/FIQ/SError: the next one it would have run). */
  readonly pc: bigint;
  readonly reason: ExitReason;
  readonly icount: number;
  /** False until the next entry closes the window the costs cover. */
  closed: boolean;
}

export interface EntryRecord {
  readonly n: number;
  readonly vmid: number;
  readonly vcpu: string | null;
  readonly pc: bigint;
  /** The ERET that entered. */
  readonly eretPc: bigint;
  readonly icount: number;
}

export interface LoadPutRecord extends Costs {
  readonly type: 'load' | 'put';
  readonly vcpu: string;
  readonly flag: string;
  /** The store that set or cleared the flag. */
  readonly pc: bigint;
  readonly icount: number;
}

export type HazardKind =
  | 'stale-read'
  | 'lost-write'
  | 'missing-load'
  | 'partial-load'
  | 'partial-put'
  /** Strict mode: any access to a governed slot while its flag is set, whatever the values. */
  | 'strict-access';

/** Same kind, vcpu, register and instruction: one hazard seen `count` times. */
export interface HazardGroup {
  readonly first: Hazard;
  count: number;
}

export interface Hazard {
  readonly kind: HazardKind;
  readonly vcpu: string;
  /** The register, or the flag for a missing load with the flag clear. */
  readonly reg: string;
  readonly pc: bigint;
  /** The instruction as a person reads it: `read_tpidr+4 (tinyvhe.S:121)`, or the address. */
  readonly where: string;
  readonly icount: number;
  readonly cpu?: bigint;
  readonly memory?: bigint;
  readonly message: string;
  /** How many times this kind, vcpu, register and instruction have been seen, this one included. */
  readonly occurrence: number;
}

export type WorldEvent =
  | { readonly type: 'exit'; readonly exit: ExitRecord }
  | { readonly type: 'entry'; readonly entry: EntryRecord; readonly closed: ExitRecord | null }
  | { readonly type: 'load' | 'put'; readonly record: LoadPutRecord }
  | { readonly type: 'hazard'; readonly hazard: Hazard };

export type CatchKind = 'entry' | 'exit' | 'load' | 'put';

export type Authority = 'cpu' | 'memory';

export interface ResidencyRow {
  readonly reg: string;
  readonly vcpu: string;
  /** The real register on the CPU (null when hypstep does not model it). */
  readonly cpu: bigint | null;
  readonly memory: bigint;
  readonly authority: Authority;
  /** The flag that governs it, or null for a register switched on every entry and exit. */
  readonly governedBy: string | null;
  readonly verdict: string;
}

/** Per-vcpu residency state that memory does not already hold (the flags are read from memory). */
interface VcpuState {
  readonly bound: BoundVcpu;
  /** Registers switched on entry/exit that are still on the CPU: entered and not yet saved since. */
  readonly onCpu: Set<string>;
  /**
   * Flag-governed registers saved (their slot written with the CPU's value) since their flag was
   * set: a put may then hand the register back to the host before it clears the flag, as KVM's
   * put restores the host's TPIDR_EL0.
   */
  readonly saved: Set<string>;
}

/** A watched location: a slot or a flag of a vcpu. */
type Watched =
  { vcpu: VcpuState; slot: BoundSlot; flag?: undefined } | { vcpu: VcpuState; flag: BoundFlag; slot?: undefined };

/** Running sums over a kind of record: what the stats are computed from, whatever the logs keep. */
export interface CostSums {
  /** Records seen. */
  count: number;
  /** Records whose costs are final (an exit's window closes at the next entry; loads and puts at once). */
  closed: number;
  el2Insns: number;
  hostInsns: number;
  sysregs: number;
}

export function newSums(): CostSums {
  return { count: 0, closed: 0, el2Insns: 0, hostInsns: 0, sysregs: 0 };
}

function addCosts(s: CostSums, c: Costs): void {
  s.closed++;
  s.el2Insns += c.el2Insns;
  s.hostInsns += c.hostInsns;
  s.sysregs += c.sysregTotal;
}

/** The world layer's aggregates since attach. */
export interface WorldSums {
  readonly exits: CostSums;
  readonly byReason: Map<ExitCategory, CostSums>;
  /** MSR/MRS by register over closed exits. */
  readonly sysregsClosed: Map<string, number>;
  /** Instructions from a guest HVC to its next instruction, over closed HVC exits. */
  readonly hvcRoundTrip: CostSums;
  readonly load: CostSums;
  readonly put: CostSums;
}

function newCosts(): Costs {
  return { el2Insns: 0, hostInsns: 0, sysregs: {}, sysregTotal: 0 };
}

/** Bytes [lo, hi) of a little-endian value that starts at `base`. */
function bytesOf(v: bigint, base: number, lo: number, hi: number): bigint {
  return (v >> BigInt(8 * (lo - base))) & ((1n << BigInt(8 * (hi - lo))) - 1n);
}

/** Whether a PE runs a guest: below EL2 with stage 2 on and not under a VHE host's TGE. */
export function guestRunningOn(c: Cpu): boolean {
  return c.ps.el < 2 && ((c.hcr >>> HCR.VM) & 1) === 1 && !c.tge;
}

/** The VMID a PE's VTTBR_EL2 holds. */
export function vmidOn(c: Cpu): number {
  return vmidOf(c.sr[SR.VTTBR_EL2!]!, c.sr[SR.VTCR_EL2!]!);
}

export class World implements CpuObserver {
  inGuest = false;
  vmid = 0;
  exits = 0;
  entries = 0;
  lastExit: ExitRecord | null = null;
  lastEntry: EntryRecord | null = null;
  /**
   * The most recent exits, loads, puts and hazards (bounded however long the run; the report and
   * the trace take every record from the events). The costs of the open window are still growing.
   */
  readonly recent = new Recent();
  readonly sums: WorldSums = {
    exits: newSums(),
    byReason: new Map(),
    sysregsClosed: new Map(),
    hvcRoundTrip: newSums(),
    load: newSums(),
    put: newSums(),
  };
  /** Hazards grouped by kind, vcpu, register and instruction, in order of first sight. */
  readonly hazardGroups = new Map<string, HazardGroup>();
  readonly catches = new Set<CatchKind>();
  /** Hazard checking (`monitor check residency on`); residency is tracked whenever a layout is bound. */
  checking = false;
  /** Strict checking: also every access to a governed slot while its flag is set. */
  strict = false;
  /** Formats code addresses for messages (symbols and lines when the image has them). */
  locate: Locate = hex;
  layout: VcpuLayout | null = null;
  vcpus: VcpuState[] = [];
  running: VcpuState | null = null;
  /**
   * Stops the CPU after the current instruction with a message for the user. The gdb stub
   * replaces it to send the message as console output and report SIGTRAP.
   */
  stop: (message: string) => void;

  private readonly listeners: ((e: WorldEvent) => void)[] = [];
  private el: number;
  private mark: number;
  private el2Total = 0;
  /** Costs of the current window (since the last exit) and segment (since the last world event). */
  private window: Costs = newCosts();
  /** The EL2 instruction total when the current window opened. */
  private windowEl2 = 0;
  private segment: Costs = newCosts();
  private segmentStart: number;
  private el2AtSegment = 0;
  private segmentProvisional = true;
  /** Inside a hyp call from a split-mode host kernel that started while the segment was provisional. */
  private inHypCall = false;
  private readonly watched = new Map<number, Watched[]>();
  private replace: (() => readonly BoundVcpu[] | null) | null = null;
  private readonly watchedRanges: { pa: number; size: number }[] = [];
  /** Registers some flag of the layout governs. */
  private governed = new Set<string>();
  /** Function-entry hooks this layer put on the CPU. */
  private readonly hookPcs: bigint[] = [];
  /** Vcpus bound at run time by discovery: a new placement of the layout keeps them. */
  private discovered: BoundVcpu[] = [];
  /** The vcpu the discovery function was last entered with: the one a shared flag speaks for. */
  private current: VcpuState | null = null;
  /** Between the entry of the layout's put function and the flag store that completes it. */
  private inPut = false;
  private attachedTo: ObserverSet | null = null;

  constructor(readonly cpu: Cpu) {
    this.el = cpu.ps.el;
    this.mark = cpu.icount;
    this.segmentStart = cpu.icount;
    this.stop = (message) => cpu.requestStop({ kind: 'requested', why: message });
    this.inGuest = this.guestRunning();
  }

  /** Starts observing: joins the CPU's observer set (creating one if needed). */
  attach(): this {
    const cur = this.cpu.observer;
    let set: ObserverSet;
    if (cur instanceof ObserverSet) set = cur;
    else {
      set = new ObserverSet();
      if (cur !== null) set.add(cur);
      this.cpu.observer = set;
    }
    set.add(this);
    this.attachedTo = set;
    return this;
  }

  detach(): void {
    this.attachedTo?.remove(this);
    if (this.attachedTo && this.attachedTo.size === 0 && this.cpu.observer === this.attachedTo)
      this.cpu.observer = null;
    this.attachedTo = null;
    this.unbind();
  }

  on(listener: (e: WorldEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** The architectural test: below EL2 with stage 2 on and not under a VHE host's TGE. */
  guestRunning(): boolean {
    return guestRunningOn(this.cpu);
  }

  currentVmid(): number {
    return vmidOn(this.cpu);
  }

  // --- layouts ------------------------------------------------------------------------------

  /**
   * Binds a layout placed in memory; residency tracking and load/put events start now.
   * `replace`, when given, is asked at each exit for a better placement until it gives one.
   */
  bind(
    layout: VcpuLayout,
    vcpus: readonly BoundVcpu[],
    replace: (() => readonly BoundVcpu[] | null) | null = null,
  ): void {
    for (const v of vcpus) this.checkRam(v);
    const running = this.running?.bound.name;
    const onCpu = new Map(this.vcpus.map((v) => [v.bound.name, v.onCpu]));
    // Placed again (or for the first time): function hooks and discovered vcpus stay; `unbind` drops them.
    this.unwatch();
    this.vcpus = [];
    this.running = null;
    this.replace = replace;
    this.layout = layout;
    this.governed = new Set(layout.flags.flatMap((f) => f.governs));
    for (const bound of [...vcpus, ...this.discovered]) this.watchVcpu(bound);
    if (onCpu.size > 0) {
      // Placed again: the state that memory does not hold carries over.
      for (const v of this.vcpus) for (const r of onCpu.get(v.bound.name) ?? []) v.onCpu.add(r);
      this.running = this.vcpus.find((v) => v.bound.name === running) ?? null;
    } else if (this.inGuest) {
      // A guest already running when the layout arrives: its switched registers are on the CPU.
      this.running = this.identify();
      this.running?.bound.slots.forEach((s) => {
        if (s.flag === null) this.running!.onCpu.add(s.name);
      });
    }
  }

  private checkRam(v: BoundVcpu): void {
    for (const x of [...v.slots, ...v.flags]) {
      if (!this.cpu.bus.isRam(x.pa, x.width)) {
        throw new LayoutError(
          `vcpu ${v.name}: ${x.name} would be at PA 0x${x.pa.toString(16)}, which is not RAM (check the vcpu's symbol, address or pointer)`,
        );
      }
    }
  }

  private watchVcpu(bound: BoundVcpu): VcpuState {
    const v: VcpuState = { bound, onCpu: new Set<string>(), saved: new Set<string>() };
    this.vcpus.push(v);
    const add = (pa: number, size: number, w: Watched) => {
      const list = this.watched.get(pa) ?? [];
      list.push(w);
      this.watched.set(pa, list);
      this.cpu.watchPhys(pa, size);
      this.watchedRanges.push({ pa, size });
    };
    for (const slot of bound.slots) add(slot.pa, slot.width, { vcpu: v, slot });
    for (const flag of bound.flags) add(flag.pa, flag.width, { vcpu: v, flag });
    return v;
  }

  /** Binds a vcpu found at run time (the layout's `discover`); it keeps its own residency from now on. */
  addVcpu(bound: BoundVcpu): void {
    this.checkRam(bound);
    this.discovered.push(bound);
    this.watchVcpu(bound);
  }

  /** Whether a vcpu structure at this virtual address is already bound. */
  knowsVcpuAt(va: bigint): boolean {
    return this.vcpus.some((v) => v.bound.va === va);
  }

  /**
   * Calls `fn` each time the instruction at `pc` is about to run (a function's entry), for as
   * long as the layout stays bound.
   */
  hookFunction(pc: bigint, fn: () => void): void {
    const prev = this.cpu.codeHook(pc);
    this.cpu.setCodeHook(pc, prev ? () => (prev(), fn()) : fn);
    this.hookPcs.push(pc);
  }

  /** The entry of the layout's load or put function: the span it is charged with starts here. */
  functionEntered(which: 'load' | 'put'): void {
    if (this.inGuest) return;
    this.startSegment(false);
    this.inPut = which === 'put';
  }

  private unwatch(): void {
    for (const r of this.watchedRanges) this.cpu.unwatchPhys(r.pa, r.size);
    this.watchedRanges.length = 0;
    this.watched.clear();
  }

  unbind(): void {
    this.unwatch();
    for (const pc of this.hookPcs) this.cpu.setCodeHook(pc, null);
    this.hookPcs.length = 0;
    this.layout = null;
    this.governed.clear();
    this.vcpus = [];
    this.discovered = [];
    this.current = null;
    this.running = null;
    this.replace = null;
    this.inPut = false;
  }

  vcpu(name: string): VcpuState | undefined {
    return this.vcpus.find((v) => v.bound.name === name);
  }

  /** A slot's or flag's value in memory: `bind` checked they are RAM, so reading has no side effects. */
  private peek(pa: number, width: number): bigint {
    return this.cpu.bus.read(pa, width);
  }

  /**
   * Whether `f` is set for `v`. A flag outside the vcpu (at a symbol, or per PE) is one word for
   * every vcpu: it speaks for the vcpu the layout's discovery function was last entered with
   * (KVM's `kvm_arch_vcpu_load(vcpu, cpu)`), or for any vcpu without discovery.
   */
  flagOn(v: VcpuState, f: BoundFlag): boolean {
    return this.flagSet(f) && this.flagIsVcpus(v, f);
  }

  private flagIsVcpus(v: VcpuState, f: BoundFlag): boolean {
    return f.place.base.kind === 'vcpu' || this.current === null || this.current === v;
  }

  /** The vcpu at `va` is being loaded on this PE (the discovery function was entered with it). */
  vcpuEntered(va: bigint): void {
    this.current = this.vcpus.find((v) => v.bound.va === va) ?? null;
  }

  flagSet(f: BoundFlag): boolean {
    return (this.peek(f.pa, f.width) & f.mask) !== 0n;
  }

  /** Whether any of the vcpu's loaded flags is set. */
  loaded(v: VcpuState): boolean {
    return v.bound.flags.some((f) => this.flagOn(v, f));
  }

  /** Whether the live value of `slot` of `v` is on the CPU right now. */
  authority(v: VcpuState, slot: BoundSlot): Authority {
    if (slot.flag !== null) return this.flagOn(v, slot.flag) ? 'cpu' : 'memory';
    return v.onCpu.has(slot.name) ? 'cpu' : 'memory';
  }

  private cpuValue(slot: BoundSlot): bigint | null {
    return slot.spec === undefined ? null : BigInt.asUintN(slot.width * 8, readSysreg(this.cpu, slot.spec));
  }

  residency(v: VcpuState, regs?: readonly string[]): ResidencyRow[] {
    const want = regs?.map(canonicalName);
    return v.bound.slots
      .filter((s) => !want || want.includes(s.name))
      .map((slot) => {
        const cpu = this.cpuValue(slot);
        const memory = this.peek(slot.pa, slot.width);
        const authority = this.authority(v, slot);
        let verdict: string;
        if (cpu === null)
          verdict = authority === 'cpu' ? 'CPU live (hypstep does not model this register)' : 'memory live';
        else if (cpu === memory) verdict = 'in sync';
        else if (authority === 'cpu') verdict = 'CPU live, memory stale (expected while loaded)';
        else verdict = 'memory live, CPU holds another value';
        return {
          reg: slot.name,
          vcpu: v.bound.name,
          cpu,
          memory,
          authority,
          governedBy: slot.flag?.name ?? null,
          verdict,
        };
      });
  }

  /** Which vcpu an entry runs: by VMID, else the only one with a flag set, else the only one. */
  private identify(): VcpuState | null {
    const vmid = this.currentVmid();
    const byVmid = this.vcpus.filter((v) => v.bound.vmid === vmid);
    if (byVmid.length === 1) return byVmid[0]!;
    const loaded = this.vcpus.filter((v) => this.loaded(v));
    if (loaded.length === 1) return loaded[0]!;
    return this.vcpus.length === 1 ? this.vcpus[0]! : null;
  }

  // --- events ---------------------------------------------------------------------------------

  private emit(e: WorldEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** Attributes the instructions since the last EL change to the EL that ran them. */
  private advance(): void {
    const now = this.cpu.icount;
    if (now < this.mark) this.machineReset();
    const n = now - this.mark;
    if (this.el === 2) this.el2Total += n;
    this.mark = now;
  }

  /**
   * The instruction count went backwards: the board was reset (`monitor reset`, PSCI reset).
   * The CPU restarted in the host at EL2 with nothing loaded; the records so far stay.
   */
  private machineReset(): void {
    this.mark = 0;
    this.el = 2;
    this.inGuest = false;
    this.running = null;
    for (const v of this.vcpus) v.onCpu.clear();
    if (this.lastExit) this.lastExit.closed = true;
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
    this.segment = newCosts();
    this.segmentStart = this.cpu.icount;
    this.el2AtSegment = this.el2Total;
    this.segmentProvisional = provisional;
  }

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
    if (this.replace !== null) {
      const placed = this.replace();
      if (placed !== null) this.bind(this.layout!, placed);
    }
    const sr = this.cpu.sr;
    const reason = decodeExit(e.kind, e.esr, sr[SR.FAR_EL2!]!, sr[SR.HPFAR_EL2!]!);
    // The record is the window: its costs grow until the next entry closes it.
    const exit: ExitRecord = {
      n: ++this.exits,
      vmid: this.vmid,
      vcpu: this.running?.bound.name ?? null,
      pc: exitingPc(e.kind, e.esr, e.elr),
      reason,
      icount: this.cpu.icount,
      closed: false,
      ...newCosts(),
    };
    this.window = exit;
    this.windowEl2 = this.el2Total;
    this.lastExit = exit;
    this.recent.exits.push(exit);
    this.sums.exits.count++;
    let cat = this.sums.byReason.get(reason.category);
    if (cat === undefined) this.sums.byReason.set(reason.category, (cat = newSums()));
    cat.count++;
    this.startSegment();
    this.emit({ type: 'exit', exit });
    if (this.catches.has('exit')) this.stop(describeExit(exit));
  }

  exceptionReturned(e: ExceptionReturned): void {
    this.advance();
    this.el = e.toEL;
    this.inHypCall = false;
    if (e.fromEL !== 2 || e.toEL === 2 || !this.guestRunning()) return;
    this.inGuest = true;
    this.vmid = this.currentVmid();
    const closed = this.lastExit !== null && !this.lastExit.closed ? this.lastExit : null;
    if (closed) {
      this.closeCosts(closed, closed.icount, this.windowEl2);
      closed.closed = true;
      this.sumClosedExit(closed);
    }
    if (this.vcpus.length > 0) this.entered();
    const entry: EntryRecord = {
      n: ++this.entries,
      vmid: this.vmid,
      vcpu: this.running?.bound.name ?? null,
      pc: e.pc,
      eretPc: this.cpu.pcs[1]!,
      icount: this.cpu.icount,
    };
    this.lastEntry = entry;
    this.startSegment();
    this.emit({ type: 'entry', entry, closed });
    if (this.catches.has('entry')) this.stop(describeEntry(entry));
  }

  private sumClosedExit(x: ExitRecord): void {
    addCosts(this.sums.exits, x);
    addCosts(this.sums.byReason.get(x.reason.category)!, x);
    for (const [r, n] of Object.entries(x.sysregs))
      this.sums.sysregsClosed.set(r, (this.sums.sysregsClosed.get(r) ?? 0) + n);
    if (x.reason.category === 'hvc') {
      // The HVC itself retired after the exit event; the window ends before the ERET's successor.
      this.sums.hvcRoundTrip.count++;
      addCosts(this.sums.hvcRoundTrip, { ...x, hostInsns: x.hostInsns + 1 });
    }
  }

  private entered(): void {
    const v = this.identify();
    this.running = v;
    for (const o of this.vcpus) o.onCpu.clear();
    if (v === null) return;
    for (const s of v.bound.slots) if (s.flag === null) v.onCpu.add(s.name);
    if (!this.checking) return;
    const pc = this.cpu.pcs[1]!;
    for (const f of v.bound.flags) {
      if (!this.flagOn(v, f)) {
        this.hazard({
          kind: 'missing-load',
          vcpu: v.bound.name,
          reg: f.name,
          pc,
          detail: `ERET into ${v.bound.name} with ${f.name} clear: ${f.governs.length} register(s) it governs (${f.governs.slice(0, 4).join(', ')}${f.governs.length > 4 ? ', …' : ''}) were never loaded`,
        });
        return;
      }
    }
    for (const s of v.bound.slots) {
      if (s.flag !== null) continue;
      const cpu = this.cpuValue(s);
      const memory = this.peek(s.pa, s.width);
      if (cpu !== null && cpu !== memory) {
        this.hazard({
          kind: 'missing-load',
          vcpu: v.bound.name,
          reg: s.name,
          pc,
          cpu,
          memory,
          detail: `ERET into ${v.bound.name} with ${s.name} on the CPU (${hex(cpu)}) different from its context (${hex(memory)})`,
        });
        return;
      }
    }
  }

  sysregAccessed(e: SysregAccessed): void {
    if (this.inGuest) return;
    const name = e.reg.name;
    // At EL2 only: a split-mode host kernel's EL1 accesses are its own registers, not a vcpu's.
    if (this.el === 2 && this.governed.has(e.reg.aliasOf ?? name)) this.governedAccess();
    const w = this.window,
      s = this.segment;
    w.sysregs[name] = (w.sysregs[name] ?? 0) + 1;
    w.sysregTotal++;
    s.sysregs[name] = (s.sysregs[name] ?? 0) + 1;
    s.sysregTotal++;
  }

  memoryAccessed(e: MemoryAccessed): void {
    // The exact-address lookup serves an access no wider than what starts there; a wider one
    // (an 8-byte store over two 4-byte slots) may reach a neighbour, so it takes the full scan.
    const exact = this.watched.get(e.pa);
    const hits =
      exact !== undefined && exact.every((w) => (w.flag ? w.flag.width : w.slot.width) >= e.size)
        ? exact
        : this.overlapping(e.pa, e.size);
    for (const w of hits) {
      if (w.flag) this.flagAccess(w.vcpu, w.flag, e);
      else this.slotAccess(w.vcpu, w.slot, e);
    }
  }

  private overlapping(pa: number, size: number): Watched[] {
    const out: Watched[] = [];
    for (const [start, list] of this.watched) {
      for (const w of list) {
        const width = w.flag ? w.flag.width : w.slot.width;
        if (pa < start + width && pa + size > start) out.push(w);
      }
    }
    return out;
  }

  private flagAccess(v: VcpuState, f: BoundFlag, e: MemoryAccessed): void {
    if (!e.write || !this.flagIsVcpus(v, f)) return;
    const lo = Math.max(e.pa, f.pa),
      hi = Math.min(e.pa + e.size, f.pa + f.width);
    const mask = bytesOf(f.mask, f.pa, lo, hi);
    const was = (bytesOf(e.before, e.pa, lo, hi) & mask) !== 0n;
    const now = (bytesOf(e.value, e.pa, lo, hi) & mask) !== 0n;
    if (was === now) return;
    this.advance();
    if (this.checking) this.checkTransition(v, f, now, e.pc);
    if (!now) this.inPut = false;
    for (const g of f.governs) v.saved.delete(g);
    const record: LoadPutRecord = {
      type: now ? 'load' : 'put',
      vcpu: v.bound.name,
      flag: f.name,
      pc: e.pc,
      icount: this.cpu.icount,
      ...this.segment,
    };
    this.closeCosts(record, this.segmentStart, this.el2AtSegment);
    this.recent.loadPut.push(record);
    const sums = this.sums[record.type];
    sums.count++;
    addCosts(sums, record);
    this.startSegment();
    this.emit({ type: record.type, record });
    if (this.catches.has(record.type)) this.stop(describeLoadPut(record, this.locate));
  }

  /**
   * A load or put completes: every register the flag governs must now be equal on the CPU and
   * in its slot (a load restored them all, a put saved them all).
   */
  private checkTransition(v: VcpuState, f: BoundFlag, set: boolean, pc: bigint): void {
    for (const slot of v.bound.slots) {
      if (slot.flag?.name !== f.name) continue;
      const cpu = this.cpuValue(slot);
      const memory = this.peek(slot.pa, slot.width);
      if (cpu === null || cpu === memory || (!set && v.saved.has(slot.name))) continue;
      this.hazard({
        kind: set ? 'partial-load' : 'partial-put',
        vcpu: v.bound.name,
        reg: slot.name,
        pc,
        cpu,
        memory,
        detail: set
          ? `${f.name} set (a load completes) with ${slot.name} not restored: the CPU holds ${hex(cpu)}, its slot ${hex(memory)}`
          : `${f.name} cleared (a put completes) with ${slot.name} not saved: its slot holds ${hex(memory)}, the CPU ${hex(cpu)}`,
      });
    }
  }

  /**
   * The start of a load's or put's span when the layout names no functions: the first access
   * of a governed register, on the CPU (MSR/MRS) or as a slot read (a put starts by reading the
   * CPU, a load by reading the slots; initialising a context only writes slots).
   */
  private governedAccess(): void {
    if (!this.segmentProvisional || this.inGuest) return;
    if (this.inHypCall)
      this.segmentProvisional = false; // charged from the hyp call's start
    else this.startSegment(false);
  }

  private slotAccess(v: VcpuState, slot: BoundSlot, e: MemoryAccessed): void {
    if (slot.flag !== null && !e.write) this.governedAccess();
    const live = this.authority(v, slot) === 'cpu';
    if (this.checking && this.strict && live && slot.flag !== null) this.strictAccess(v, slot, e);
    if (!live) return;
    const cpuFull = this.cpuValue(slot);
    if (cpuFull === null) return;
    const lo = Math.max(e.pa, slot.pa),
      hi = Math.min(e.pa + e.size, slot.pa + slot.width);
    const cpu = bytesOf(cpuFull, slot.pa, lo, hi);
    const mem = bytesOf(e.value, e.pa, lo, hi);
    const whole = lo === slot.pa && hi === slot.pa + slot.width;
    if (cpu === mem) {
      // Saving the CPU's value: a register switched on entry/exit now lives in memory.
      if (e.write && whole) {
        if (slot.flag === null) v.onCpu.delete(slot.name);
        else v.saved.add(slot.name);
      }
      return;
    }
    if (!this.checking) return;
    const loaded = slot.flag !== null ? `${slot.flag.name} set` : 'on the CPU since the last entry, not yet saved';
    if (e.write) {
      this.hazard({
        kind: 'lost-write',
        vcpu: v.bound.name,
        reg: slot.name,
        pc: e.pc,
        cpu: cpuFull,
        memory: e.value,
        detail: `write of ${hex(e.value)} to the ${slot.name} slot of ${v.bound.name} while the register is live on the CPU (${loaded}); the CPU holds ${hex(cpuFull)}, so the write is lost when the register is next saved`,
      });
    } else {
      this.hazard({
        kind: 'stale-read',
        vcpu: v.bound.name,
        reg: slot.name,
        pc: e.pc,
        cpu: cpuFull,
        memory: e.value,
        detail: `read of the ${slot.name} slot of ${v.bound.name} while the register is live on the CPU (${loaded}): memory holds ${hex(e.value)}, the CPU ${hex(cpuFull)}`,
      });
    }
  }

  /**
   * Strict mode: an access to a governed slot while its flag is set is the bug, before the
   * values ever differ. Writes inside the layout's put function (or, without one, writes of the
   * CPU's value) are the put saving the register. Accesses the value checks report already are
   * left to them.
   */
  private strictAccess(v: VcpuState, slot: BoundSlot, e: MemoryAccessed): void {
    const cpu = this.cpuValue(slot);
    const lo = Math.max(e.pa, slot.pa),
      hi = Math.min(e.pa + e.size, slot.pa + slot.width);
    const differs = cpu !== null && bytesOf(cpu, slot.pa, lo, hi) !== bytesOf(e.value, e.pa, lo, hi);
    if (differs) return;
    if (e.write && (this.inPut || (this.layout?.putSymbol === undefined && cpu !== null))) return;
    this.hazard({
      kind: 'strict-access',
      vcpu: v.bound.name,
      reg: slot.name,
      pc: e.pc,
      ...(cpu !== null ? { cpu } : {}),
      memory: e.value,
      detail: `${e.write ? 'write to' : 'read of'} the ${slot.name} slot of ${v.bound.name} while ${slot.flag!.name} is set (the register is live on the CPU; the values agree this time)`,
    });
  }

  private hazard(h: Omit<Hazard, 'message' | 'icount' | 'where' | 'occurrence'> & { detail: string }): void {
    const { detail, ...rest } = h;
    const key = `${h.kind}|${h.vcpu}|${h.reg}|${h.pc}`;
    let group = this.hazardGroups.get(key);
    const occurrence = (group?.count ?? 0) + 1;
    const where = this.locate(h.pc);
    const hazard: Hazard = {
      ...rest,
      where,
      icount: this.cpu.icount,
      occurrence,
      message:
        `[hypstep] residency hazard: ${h.kind} of ${h.reg} (${h.vcpu}) at ${where}: ${detail}` +
        (occurrence > 1 ? ` (seen ${occurrence} times)` : ''),
    };
    if (group === undefined) this.hazardGroups.set(key, (group = { first: hazard, count: 0 }));
    group.count = occurrence;
    this.recent.hazards.push(hazard);
    this.emit({ type: 'hazard', hazard });
    this.stop(hazard.message);
  }

  /** The costs of the window still open (since the last exit), for `monitor world`. */
  openWindow(): Costs | null {
    if (this.inGuest || this.lastExit === null || this.lastExit.closed) return null;
    this.advance();
    const c = { ...this.window, sysregs: { ...this.window.sysregs } };
    this.closeCosts(c, this.lastExit.icount, this.windowEl2);
    // The instruction that exited synchronously retires after the event (the window's count
    // includes it and leaves out the closing ERET, which evens out once the window closes).
    const cat = this.lastExit.reason.category;
    if (cat !== 'irq' && cat !== 'fiq' && cat !== 'serror') {
      c.el2Insns--;
      c.hostInsns--;
    }
    return c;
  }
}

export function describeExit(x: ExitRecord): string {
  return (
    `[hypstep] guest exit #${x.n} vmid ${x.vmid}${x.vcpu ? ` (${x.vcpu})` : ''}: ${x.reason.text} at ${hex(x.pc)}` +
    (x.reason.category === 'irq' || x.reason.category === 'fiq' ? '' : ` (ESR_EL2 ${hex(x.reason.esr)})`)
  );
}

export function describeEntry(e: EntryRecord): string {
  return `[hypstep] guest entry #${e.n} vmid ${e.vmid}${e.vcpu ? ` (${e.vcpu})` : ''} at ${hex(e.pc)} (ERET at ${hex(e.eretPc)})`;
}

export function describeLoadPut(r: LoadPutRecord, locate: Locate = hex): string {
  return `[hypstep] vcpu ${r.type} ${r.vcpu}: ${r.flag} ${r.type === 'load' ? 'set' : 'cleared'} at ${locate(r.pc)}`;
}
