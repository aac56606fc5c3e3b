// The processing element: register file, PSTATE, system-register storage and the run loop
// (fetch through the MMU → decoded-instruction cache → execute).
import { VRegs } from './vregs.js';
import { StuckDetector } from './stuck.js';
import { PState } from '../pe/pstate.js';
import { takeSync, takePendingInterrupt } from './exceptions.js';
import { ArchException, MachineStop, EC, defaultTargetEL, wakeupPending } from '../pe/exception.js';
import { AccessEvent, type CpuObserver, type SysregLog } from './events.js';
import { SYSREGS, SYSREG_SLOTS, SR, HCR } from '../sysregs/registry.js';
import { resetValue } from '../sysregs/special.js';
import { PhysBus, BusError, PAGE_SHIFT, PAGE_SIZE, LITTLE_ENDIAN_HOST } from '../board/bus.js';
import { Mmu, AccessType, FSC } from '../mmu/mmu.js';
import { CodeCache, Insn, type CodePage, type CodeUser } from './code.js';
import type { Trace } from './trace.js';
import { ExclusiveMonitor } from './monitor.js';
import { DebugPort, WatchStop, type WatchHit } from './debug-port.js';
import { MachineSysregs } from '../sysregs/machine.js';
import { ACC_ALIGNED, ACC_UNPRIV } from './access.js';
import {
  selfDebugArmed,
  softwareStepActive,
  softwareStepException,
  checkBreakpoint,
  checkWatchpoint,
  isLoadExclusive,
} from '../pe/debug.js';

export type StopReason =
  | { kind: 'budget' }
  | { kind: 'breakpoint'; pc: bigint }
  /** A debugger's watchpoint, before the access (the PC is that of the instruction, not yet executed). */
  | ({ kind: 'watchpoint' } & WatchHit)
  | { kind: 'requested'; why: string }
  | { kind: 'exit'; code: number; why: string }
  | { kind: 'unimplemented'; message: string }
  /** The PE takes the same exception at the same vector over and over, never progressing (stuck.ts). */
  | { kind: 'stuck'; message: string }
  /** Every PE is off or asleep and nothing will wake one (the machine's run only). */
  | { kind: 'idle'; message: string };

/** A PE's run also ends when it gives up its quantum (asleep, YIELD, a barrier) for the scheduler. */
export type PeStop = StopReason | { kind: 'switch' };
const SWITCH: PeStop = { kind: 'switch' };
/** Not a stop: asks the run loop to look again after this instruction (for a pending interrupt, at code hooks). */
const ATTEND: PeStop = { kind: 'switch' };

/** What a PE waits for after WFI or WFE (or a PSCI CPU_SUSPEND standby, which waits as WFI does). */
export const enum Wait {
  None = 0,
  Interrupt = 1,
  Event = 2,
}

export interface CpuOptions {
  /** The machine's decoded-instruction cache (a PE alone makes its own). */
  code?: CodeCache;
  /** The machine's global exclusive monitor. */
  monitor?: ExclusiveMonitor;
  /** This PE's position in the machine (its monitor slot and MPIDR affinity). */
  index?: number;
  /** MPIDR_EL1 as this PE reports it. */
  mpidr?: bigint;
  /** Every PE of the machine, this one included (SEV and Inner Shareable TLB maintenance reach them all). */
  peers?: readonly Cpu[];
  /** The machine's system registers (the table and what devices added). */
  sysregs?: MachineSysregs;
}

export class Cpu implements CodeUser {
  /** X0–X30; index 31 reads as zero (XZR) and is never written. */
  readonly x = new BigUint64Array(32);
  /** SP_EL0, SP_EL1, SP_EL2: the banked stack pointers. `x`-style access to SP goes through getSp/setSp. */
  readonly spEl = new BigUint64Array(3);
  /** [0] the PC of the next instruction, [1] the address of the instruction executing now. */
  readonly pcs = new BigUint64Array(2);
  /** V0–V31, the SIMD&FP registers (FPCR and FPSR are system registers). */
  readonly v = new VRegs();
  /**
   * The same two PCs as int32 halves ([0] = pcs[0] bits 31:0, [1] its bits 63:32, [2], [3] pcs[1]):
   * the run loop's view.
   */
  readonly pcs32 = new Int32Array(this.pcs.buffer);
  readonly ps = new PState();
  /** System-register storage, indexed by SR.<name>. */
  readonly sr = new BigUint64Array(SYSREG_SLOTS);
  /** Cached from HCR_EL2 on every write: its low 32 bits, E2H and TGE. */
  hcr = 0;
  e2h = false;
  tge = false;

  readonly mmu: Mmu;
  observer: CpuObserver | null = null;
  /** Where MRS/MSR are logged instead of raised to the observer (see `SysregLog`). */
  sysregLog: SysregLog | null = null;
  /** The board's semihosting service (HLT #0xF000), and the emulator-resident firmware (PSCI over SMC). */
  semihost: ((cpu: Cpu) => void) | null = null;
  firmwareCall: ((cpu: Cpu) => boolean) | null = null;
  /** Instructions retired since reset: the deterministic clock. */
  icount = 0;
  /** The Event Register (WFE/SEV/SEVL, set by exception return). */
  eventRegister = false;

  /** PSCI power state: an off PE does not run. */
  on = true;
  /** What the PE sleeps until (WFI, WFE), or Wait.None while it runs. */
  waiting = Wait.None;
  /** The IRQ/FIQ/SError inputs (LINE bits) devices drive. */
  private lineBits = 0;
  /** The clock: CNTPCT = icount + clockOffset (the scheduler keeps PEs' counters in step). */
  clockOffset = 0;

  readonly index: number;
  readonly mpidr: bigint;
  readonly peers: readonly Cpu[];
  readonly code: CodeCache;
  readonly monitor: ExclusiveMonitor;
  readonly sysregs: MachineSysregs;

  /** The debugger's breakpoints and watchpoints on this PE. */
  readonly debug = new DebugPort();
  /**
   * The guest's own debug events can fire (pe/debug.ts selfDebugArmed): the run loop then checks
   * software step and breakpoints at every instruction and data accesses for watchpoints, and runs
   * no compiled code.
   */
  selfDebug = false;
  /** Exceptions taken (and firmware SMCs, each one to EL3 and back): did a stepped instruction complete? */
  exceptionEntries = 0;
  /**
   * Called before the instruction at an address runs, without stopping (the world layer's
   * function-entry hooks; set them with `setCodeHook`). A compiled trace never runs past one.
   */
  private readonly codeHooks = new Map<bigint, () => void>();
  /**
   * The VA pages holding hooks, as int32 halves (low, high, …), and each one's hooked
   * instructions as a bitmap laid out as a trace's path (a new array whenever they change). The
   * run loop looks a page up when it enters it: elsewhere, instructions and traces test nothing.
   */
  private hookPageHalves = new Int32Array(0);
  private hookPageBits: Uint8Array[] = [];
  /**
   * Physical RAM ranges whose accesses raise `memoryAccessed` (after the access, with the values).
   * For each RAM page holding watched bytes, `physWatchMasks` has a byte per 8-byte granule with a
   * bit per watched byte, so an aligned access's check is one load; `physWatchPages` keeps, per
   * page ever watched, how many ranges reach it and cover each byte (they may overlap), and its
   * masks for when it is watched again (the world layer watches and unwatches at vcpu switches).
   * Nothing is tested while `physWatchCount` is 0.
   */
  private physWatchCount = 0;
  private readonly physWatchMasks: (Uint8Array | undefined)[];
  private readonly physWatchPages = new Map<number, { ranges: number; counts: Uint16Array; masks: Uint8Array }>();
  private physWatches: { pa: number; size: number }[] = [];
  /** The watched-memory event, filled in for each access (events.ts). */
  private readonly accessed = new AccessEvent(this);
  /** What the run loop does after the current instruction (compiled traces test it after executors). */
  stopRequest: PeStop | null = null;
  /** Whether this run takes interrupts (a debugger's single step may mask them). */
  private interruptsTaken = true;
  /** Scratch for reading a VA's low bits without BigInt arithmetic. */
  private readonly vaSplit64 = new BigUint64Array(1);
  private readonly vaSplit32 = new Int32Array(this.vaSplit64.buffer);
  private lastPage: CodePage | null = null;
  private readonly stuck: StuckDetector;
  private lastPageNum = -1;

  constructor(
    readonly bus: PhysBus,
    o: CpuOptions = {},
  ) {
    this.index = o.index ?? 0;
    this.mpidr = o.mpidr ?? UNIPROCESSOR_MPIDR;
    this.peers = o.peers ?? [this];
    this.code = o.code ?? new CodeCache(bus);
    this.monitor = o.monitor ?? new ExclusiveMonitor(1);
    this.sysregs = o.sysregs ?? new MachineSysregs();
    this.code.attach(this);
    this.physWatchMasks = new Array<Uint8Array | undefined>(bus.codePages.length).fill(undefined);
    this.mmu = new Mmu(this);
    this.stuck = new StuckDetector(bus);
    this.reset(0n);
  }

  reset(entry: bigint): void {
    this.x.fill(0n);
    this.v.reset();
    this.spEl.fill(0n);
    for (const s of SYSREGS) if (s.slot >= 0) this.sr[s.slot] = resetValue(s);
    this.sr[SR.VMPIDR_EL2!] = this.mpidr; // UNKNOWN at reset; QEMU starts it at MPIDR_EL1
    Object.assign(this.ps, new PState());
    this.hcrChanged();
    this.pcs[0] = entry;
    this.icount = 0;
    this.clockOffset = 0;
    this.waiting = Wait.None;
    this.eventRegister = false;
    this.monitor.clear(this.index);
    this.mmu.flushAll();
    this.debugChanged();
  }

  // --- registers -------------------------------------------------------------

  /** SP of the current EL and SP selection. */
  getSp(): bigint {
    return this.ps.sp ? this.spEl[this.ps.el]! : this.spEl[0]!;
  }
  setSp(v: bigint): void {
    if (this.ps.sp) this.spEl[this.ps.el] = v;
    else this.spEl[0] = v;
  }

  /** Called after a write to a register that arms or disarms the guest's debug events. */
  debugChanged(): void {
    this.selfDebug = selfDebugArmed(this);
    this.interruptsChanged(); // compiled code leaves after the write, and the run loop sees the new state
  }

  /** Called after HCR_EL2 changes. */
  hcrChanged(): void {
    const v = this.sr[SR.HCR_EL2!]!;
    this.hcr = Number(v & 0xffff_ffffn) >>> 0;
    this.e2h = ((v >> BigInt(HCR.E2H)) & 1n) === 1n;
    this.tge = ((this.hcr >>> HCR.TGE) & 1) === 1;
    this.contextChanged();
    this.interruptsChanged();
  }

  // --- interrupts and waiting --------------------------------------------------------

  /** The IRQ/FIQ/SError inputs as LINE bits. */
  get lines(): number {
    return this.lineBits;
  }

  /** A device drives one of this PE's interrupt inputs. */
  setLine(line: number, level: boolean): void {
    this.lineBits = level ? this.lineBits | line : this.lineBits & ~line;
    if (level) this.interruptsChanged();
  }

  /**
   * Something that can make an interrupt takeable changed (an input, PSTATE.DAIF, the EL,
   * HCR_EL2): the run loop looks after the current instruction.
   */
  interruptsChanged(): void {
    if (this.stopRequest === null) this.stopRequest = ATTEND;
  }

  /** Takes the interrupt that is pending and not masked now, if any (true when one was taken). */
  takeInterrupt(): boolean {
    return takePendingInterrupt(this);
  }

  /** WFI (or a PSCI standby): the PE stops here until an interrupt is pending for it (at once if one is). */
  sleepUntilInterrupt(): void {
    if (wakeupPending(this)) return;
    this.waiting = Wait.Interrupt;
    this.requestStop(SWITCH);
  }

  /** WFE with the Event Register clear: the PE stops here until an event (SEV, a lost reservation) or an interrupt. */
  sleepUntilEvent(): void {
    if (wakeupPending(this)) return;
    this.waiting = Wait.Event;
    this.requestStop(SWITCH);
  }

  /** Whether a sleeping PE wakes now (WFE consumes the event that wakes it). */
  wakes(): boolean {
    if (this.waiting === Wait.Event && this.eventRegister) {
      this.eventRegister = false;
      return true;
    }
    return wakeupPending(this);
  }

  /** Ends this PE's quantum after the current instruction when other PEs may run (YIELD, barriers). */
  yieldQuantum(): void {
    if (this.peers.length > 1) this.requestStop(SWITCH);
  }

  /** Something that affects translation or decoding changed (EL, regime, MMU controls). */
  contextChanged(): void {
    this.mmu.contextChanged();
  }

  /** AArch64.BranchAddr: the target as the PC will hold it (top-byte-ignore per the current regime's TCR). */
  branchAddr(target: bigint): bigint {
    return this.mmu.branchAddr(target);
  }

  // --- memory ----------------------------------------------------------------

  /** Whether `va` is not a multiple of `bytes` (a power of two). */
  misaligned(va: bigint, bytes: number): boolean {
    // The low bits through an int32 view: Number(va & 0xffn) allocates on every access.
    this.vaSplit64[0] = va;
    return (this.vaSplit32[0]! & (bytes - 1)) !== 0;
  }

  /** A misaligned data access: the alignment fault when the access or SCTLR_ELx.A requires alignment. */
  private misalignedAccess(va: bigint, flags: number, type: AccessType): void {
    if ((flags & ACC_ALIGNED) !== 0 || this.alignmentChecked()) throw this.mmu.abort(va, type, FSC.ALIGNMENT);
  }

  /**
   * The PA of a data access of `size` bytes at `va`, after the alignment check: the VA is split
   * into int32 halves once, for both the check and the TLB (translate splits it again on a miss only).
   */
  private dataAddress(va: bigint, size: number, flags: number, type: AccessType): number {
    this.vaSplit64[0] = va;
    const lo = this.vaSplit32[0]!;
    const hi = this.vaSplit32[1]!;
    if ((lo & (size - 1)) !== 0) this.misalignedAccess(va, flags, type);
    const unprivileged = (flags & ACC_UNPRIV) !== 0;
    const pa = this.mmu.hit(lo, hi, type, unprivileged);
    return pa >= 0 ? pa : this.mmu.translate(va, type, flags, unprivileged);
  }

  /** SCTLR[]: the SCTLR_ELx of the current translation regime (SCTLR_EL2 for EL2, EL2&0). */
  sctlr(): bigint {
    const el = this.ps.el;
    return el === 2 || (el === 0 && this.e2h && this.tge) ? this.sr[SR.SCTLR_EL2!]! : this.sr[SR.SCTLR_EL1!]!;
  }

  /** SCTLR_ELx.A for the current regime. */
  alignmentChecked(): boolean {
    return (this.sctlr() & 2n) !== 0n;
  }

  private physRead(va: bigint, pa: number, size: number, type: AccessType): bigint {
    try {
      return this.bus.read(pa, size);
    } catch (e) {
      if (e instanceof BusError) throw this.mmu.abort(va, type, FSC.SYNC_EXTERNAL);
      throw e;
    }
  }

  /**
   * The physical address of an aligned access of `size` bytes at `base` + `offset` that hits the
   * TLB in RAM, when neither the debugger nor the guest's debug events watch data accesses, else
   * -1: the common case of read and write, without their full path's calls (RAM is then read and
   * written through its typed arrays, in the host's byte order, which must be the guest's). The
   * address is added on the base's int32 halves (a BigInt sum would be allocated for every load
   * and store). The caller tests watched bytes (a world layer's vcpu context shares its page
   * with state every entry and exit saves).
   */
  private plainAddress(base: bigint, offset: number, size: number, flags: number, type: AccessType): number {
    if (this.debug.watching || this.selfDebug || !LITTLE_ENDIAN_HOST) return -1;
    this.vaSplit64[0] = base;
    const sum = (this.vaSplit32[0]! >>> 0) + offset;
    if ((sum & (size - 1)) !== 0) return -1;
    const hi = (this.vaSplit32[1]! + (sum >= 0x1_0000_0000 ? 1 : sum < 0 ? -1 : 0)) | 0;
    const pa = this.mmu.hit(sum | 0, hi, type, (flags & ACC_UNPRIV) !== 0);
    const off = pa - this.bus.ramBase;
    return pa < 0 || off < 0 || off >= this.bus.ramSize ? -1 : pa;
  }

  /** A data read of 1, 2, 4 or 8 bytes at `va`. */
  read(va: bigint, size: number, flags: number): bigint {
    return this.readAt(va, 0, size, flags);
  }

  /** A data read of 1, 2, 4 or 8 bytes at `base` + `offset` (a small byte offset: an instruction's immediate). */
  readAt(base: bigint, offset: number, size: number, flags: number): bigint {
    const plain = this.plainAddress(base, offset, size, flags, AccessType.Read);
    if (plain >= 0) {
      // Aligned and within RAM: one element of the typed array of its size.
      const bus = this.bus;
      const off = plain - bus.ramBase;
      let v: bigint;
      if (size === 8) v = bus.ram64[off >>> 3]!;
      else {
        const v32 = this.vaSplit32;
        v32[0] = size === 4 ? bus.ram32[off >>> 2]! : size === 2 ? bus.ram16[off >>> 1]! : bus.ram[off]!;
        v32[1] = 0;
        v = this.vaSplit64[0]!;
      }
      if (this.physWatchCount !== 0 && this.watchedAt(off, size))
        this.physAccessed(base, offset, plain, size, false, v, v);
      return v;
    }
    const va = offset === 0 ? base : BigInt.asUintN(64, base + BigInt(offset));
    if (this.debug.watching) this.watchTest(va, size, false);
    const pa = this.dataAddress(va, size, flags, AccessType.Read);
    if (this.selfDebug) checkWatchpoint(this, va, size, false, (flags & ACC_UNPRIV) !== 0);
    if ((pa & (PAGE_SIZE - 1)) + size <= PAGE_SIZE) {
      const v = this.physRead(va, pa, size, AccessType.Read);
      if (this.physWatchCount !== 0 && this.physWatched(pa, size)) this.physAccessed(va, 0, pa, size, false, v, v);
      return v;
    }
    // Crossing a page: Mem[] reads the bytes from the lowest address up, so a fault names the first byte that faults.
    let v = 0n;
    for (let i = 0; i < size; i++) v |= this.read(BigInt.asUintN(64, va + BigInt(i)), 1, flags) << BigInt(8 * i);
    return v;
  }

  write(va: bigint, size: number, value: bigint, flags: number): void {
    this.writeAt(va, 0, size, value, flags);
  }

  /** A data write of 1, 2, 4 or 8 bytes at `base` + `offset` (a small byte offset: an instruction's immediate). */
  writeAt(base: bigint, offset: number, size: number, value: bigint, flags: number): void {
    const plain = this.plainAddress(base, offset, size, flags, AccessType.Write);
    if (plain >= 0) {
      if (this.monitor.open !== 0) this.monitor.stored(this.index, plain, size);
      const bus = this.bus;
      const off = plain - bus.ramBase;
      // Watched ranges are RAM only, so reading the old value has no side effect.
      const watched = this.physWatchCount !== 0 && this.watchedAt(off, size);
      const before = watched ? bus.read(plain, size) : 0n;
      // Aligned and within RAM, so within one page: a page of cached code is dropped by the bus's write.
      if (bus.codePages[off >>> PAGE_SHIFT] !== 0) bus.write(plain, size, value);
      else if (size === 8) bus.ram64[off >>> 3] = value;
      else {
        this.vaSplit64[0] = value;
        const lo = this.vaSplit32[0]!;
        if (size === 4) bus.ram32[off >>> 2] = lo;
        else if (size === 2) bus.ram16[off >>> 1] = lo;
        else bus.ram[off] = lo;
      }
      if (watched) this.physAccessed(base, offset, plain, size, true, value, before);
      return;
    }
    const va = offset === 0 ? base : BigInt.asUintN(64, base + BigInt(offset));
    if (this.debug.watching) this.watchTest(va, size, true);
    const pa = this.dataAddress(va, size, flags, AccessType.Write);
    if (this.selfDebug) checkWatchpoint(this, va, size, true, (flags & ACC_UNPRIV) !== 0);
    if ((pa & (PAGE_SIZE - 1)) + size <= PAGE_SIZE) {
      if (this.monitor.open !== 0) this.monitor.stored(this.index, pa, size);
      // Watched ranges are RAM only, so reading the old value has no side effect.
      const watched = this.physWatchCount !== 0 && this.physWatched(pa, size);
      const before = watched ? this.bus.read(pa, size) : 0n;
      try {
        this.bus.write(pa, size, value);
      } catch (e) {
        if (e instanceof BusError) throw this.mmu.abort(va, AccessType.Write, FSC.SYNC_EXTERNAL);
        throw e;
      }
      if (watched) this.physAccessed(va, 0, pa, size, true, value, before);
      return;
    }
    // Crossing a page: translate the second page before writing anything (QEMU does; the ARM ARM leaves the bytes
    // UNKNOWN), so a fault there names its first byte, the one Mem[]'s lowest-address-first order reaches first.
    const next = BigInt.asUintN(64, va + BigInt(PAGE_SIZE - (pa & (PAGE_SIZE - 1))));
    this.mmu.translate(next, AccessType.Write, flags, (flags & ACC_UNPRIV) !== 0);
    for (let i = 0; i < size; i++) {
      this.write(BigInt.asUintN(64, va + BigInt(i)), 1, (value >> BigInt(8 * i)) & 0xffn, flags);
    }
  }

  // --- atomic read-modify-write (FEAT_LSE) ---------------------------------------------

  /**
   * The checks of an atomic access of `size` bytes at `va` (AArch64.TranslateAddressForAtomicAccess),
   * made before anything is read or written, so a faulting atomic changes nothing: the debugger's
   * watchpoints (it reads and writes), alignment (an atomic must be aligned to its size whatever
   * SCTLR_ELx.A says, so it never crosses a page), translation for reading and then for writing.
   * A fault a read would take reports WnR=0, one only the write takes WnR=1 (ESR_ELx ISS.WnR for
   * atomics); no instruction syndrome (ISV=0). For the exclusive monitors an atomic is a store,
   * whether or not a CAS then writes. Returns the PA.
   */
  atomicAccess(va: bigint, size: number): number {
    if (this.debug.watching) {
      this.watchTest(va, size, false);
      this.watchTest(va, size, true);
    }
    if (this.misaligned(va, size)) throw this.mmu.abort(va, AccessType.Read, FSC.ALIGNMENT);
    const pa = this.mmu.translate(va, AccessType.Read, 0, false);
    this.mmu.translate(va, AccessType.Write, 0, false);
    if (this.selfDebug) {
      checkWatchpoint(this, va, size, false, false);
      checkWatchpoint(this, va, size, true, false);
    }
    if (this.monitor.open !== 0) this.monitor.stored(this.index, pa, size);
    return pa;
  }

  /** The read of an atomic at `pa` (from `atomicAccess`; 1 to 8 bytes). */
  atomicRead(va: bigint, pa: number, size: number): bigint {
    const v = this.physRead(va, pa, size, AccessType.Read);
    if (this.physWatchCount !== 0 && this.physWatched(pa, size)) this.physAccessed(va, 0, pa, size, false, v, v);
    return v;
  }

  /** The write of an atomic at `pa`, which read `before` there. */
  atomicWrite(va: bigint, pa: number, size: number, value: bigint, before: bigint): void {
    try {
      this.bus.write(pa, size, value);
    } catch (e) {
      if (e instanceof BusError) throw this.mmu.abort(va, AccessType.Write, FSC.SYNC_EXTERNAL);
      throw e;
    }
    if (this.physWatchCount !== 0 && this.physWatched(pa, size))
      this.physAccessed(va, 0, pa, size, true, value, before);
  }

  /**
   * For compiled code's loads and stores: the RAM offset of an ordinary data access (privileged
   * unless `unprivileged`) at the VA whose int32 halves are `lo`, `hi`, or -1 when the access
   * must take the full path of read/write: a fault (a TLB miss walks here), not RAM, a debugger watchpoint,
   * watched bytes, a store to a page of cached code or while an exclusive reservation is open.
   * The caller has checked alignment and that the `size` bytes stay within the page. On a page
   * holding watched bytes the answer is for these bytes alone: `pageWatched` then tells the caller
   * not to remember the page for its next access.
   */
  ramOffset(lo: number, hi: number, type: AccessType, unprivileged: boolean, size: number): number {
    if (this.debug.watching || !LITTLE_ENDIAN_HOST) return -1;
    // A TLB miss walks here: taking the executor's path for it would also leave compiled code
    // on a path V8 had not seen (a deoptimisation, then the trace optimised again).
    const pa = this.mmu.probe(lo, hi, type, unprivileged);
    if (pa < 0) return -1;
    const off = pa - this.bus.ramBase;
    if (off < 0 || off >= this.bus.ramSize) return -1;
    const page = off >>> PAGE_SHIFT;
    // A vcpu context shares its page with state every entry and exit saves (KVM's struct kvm_vcpu):
    // accesses to its unwatched bytes stay compiled.
    this.pageWatched = this.physWatchCount !== 0 && this.physWatchMasks[page] !== undefined;
    if (this.pageWatched && this.watchedAt(off, size)) return -1;
    const store = this.bus.codePages[page] === 0 && this.monitor.open === 0;
    if (type === AccessType.Write) return store ? off : -1;
    // The same TLB entry answers for a write: a page read and then written costs one lookup.
    this.readAlsoWritable = store && !unprivileged && this.mmu.hit(lo, hi, AccessType.Write, false) >= 0;
    return off;
  }

  /** After a read's ramOffset(): whether a privileged write to that page may take the same path. */
  readAlsoWritable = false;
  /** After ramOffset(): whether the page holds watched bytes (its answer is for the bytes asked alone). */
  pageWatched = false;

  private watchTest(va: bigint, size: number, write: boolean): void {
    const hit = this.debug.watch(va, size, write);
    if (hit !== null) throw new WatchStop(hit);
  }

  /** Raises `memoryAccessed` for data accesses overlapping [pa, pa+size) of RAM. */
  watchPhys(pa: number, size: number): void {
    if (size <= 0 || !this.bus.isRam(pa, size))
      throw new RangeError(`watchPhys: 0x${pa.toString(16)}+${size} is not RAM`);
    this.physWatches.push({ pa, size });
    this.physWatchCount++;
    this.forWatchPages(pa, size, 1);
  }

  unwatchPhys(pa: number, size: number): void {
    const i = this.physWatches.findIndex((w) => w.pa === pa && w.size === size);
    if (i < 0) return;
    this.physWatches.splice(i, 1);
    this.physWatchCount--;
    this.forWatchPages(pa, size, -1);
  }

  private forWatchPages(pa: number, size: number, delta: number): void {
    const off = pa - this.bus.ramBase;
    for (let page = off >>> PAGE_SHIFT; page <= (off + size - 1) >>> PAGE_SHIFT; page++) {
      let w = this.physWatchPages.get(page);
      if (w === undefined) {
        w = { ranges: 0, counts: new Uint16Array(PAGE_SIZE), masks: new Uint8Array(PAGE_SIZE / 8) };
        this.physWatchPages.set(page, w);
      }
      w.ranges += delta;
      this.physWatchMasks[page] = w.ranges !== 0 ? w.masks : undefined;
      const { counts, masks } = w;
      const base = page * PAGE_SIZE;
      for (let i = Math.max(off, base) - base, end = Math.min(off + size, base + PAGE_SIZE) - base; i < end; i++) {
        counts[i]! += delta;
        masks[i >>> 3] = counts[i] !== 0 ? masks[i >>> 3]! | (1 << (i & 7)) : masks[i >>> 3]! & ~(1 << (i & 7));
      }
    }
  }

  /** Whether any of the `size` bytes at `pa` is watched (within one page: page-crossing accesses are split). */
  private physWatched(pa: number, size: number): boolean {
    const off = pa - this.bus.ramBase;
    return off >= 0 && off < this.bus.ramSize && this.watchedAt(off, size);
  }

  /** physWatched for RAM offset `off`. */
  private watchedAt(off: number, size: number): boolean {
    const masks = this.physWatchMasks[off >>> PAGE_SHIFT];
    if (masks === undefined) return false;
    const o = off & (PAGE_SIZE - 1);
    // Within one granule (every aligned access of up to 8 bytes): one test.
    if ((o & 7) + size <= 8) return ((masks[o >>> 3]! >>> (o & 7)) & ((1 << size) - 1)) !== 0;
    for (let b = o; b < o + size; b++) if (((masks[b >>> 3]! >>> (b & 7)) & 1) !== 0) return true;
    return false;
  }

  /**
   * Raises `memoryAccessed` for an access at VA `base` + `offset` (summed if the observer asks);
   * `value` is as stored (the event keeps its `size` bytes).
   */
  private physAccessed(
    base: bigint,
    offset: number,
    pa: number,
    size: number,
    write: boolean,
    value: bigint,
    before: bigint,
  ): void {
    const e = this.accessed;
    e.pa = pa;
    e.size = size;
    e.write = write;
    e.offset = offset;
    const w = e.words;
    w[0] = base;
    w[1] = value;
    w[2] = before;
    this.observer?.memoryAccessed?.(e);
  }

  // --- exclusive monitor ---------------------------------------------------------

  /** Marks [pa, pa+size) exclusive for the load-exclusive at `va`. */
  exclusiveMark(va: bigint, size: number): void {
    this.monitor.mark(this.index, this.mmu.translate(va, AccessType.Read, 0, false), size);
  }

  /** The store-exclusive check: true when the reservation still covers [va, va+size). */
  exclusivePass(va: bigint, size: number, flags: number): boolean {
    return this.monitor.pass(this.index, this.mmu.translate(va, AccessType.Write, flags, false), size);
  }

  exclusiveClear(): void {
    this.monitor.clear(this.index);
  }

  // --- decoded-instruction cache ----------------------------------------------

  codeInvalidated(page: number): void {
    this.mmu.generation++;
    if (page === this.lastPageNum) {
      this.lastPage = null;
      this.lastPageNum = -1;
    }
  }

  /** Decodes (or finds cached) the instruction at physical address `pa`. */
  private decodeAt(pa: number): CodePage {
    const off = pa - this.bus.ramBase;
    const pageNum = off >>> PAGE_SHIFT;
    if (pageNum === this.lastPageNum && off >= 0) return this.lastPage!;
    const page = this.code.page(pa);
    this.lastPage = page;
    this.lastPageNum = pageNum;
    return page;
  }

  // --- run loop -------------------------------------------------------------------

  /** Asks the run loop to stop after the current instruction. */
  requestStop(reason: PeStop): void {
    if (this.stopRequest === null || this.stopRequest === ATTEND) this.stopRequest = reason;
  }

  /** The stop the run loop found after an instruction, or null when it only had to take an interrupt. */
  private attend(): PeStop | null {
    const r = this.stopRequest!;
    this.stopRequest = null;
    if (r !== ATTEND) return r;
    if (this.interruptsTaken) takePendingInterrupt(this);
    return null;
  }

  /**
   * Calls `fn` (or no longer, with null) each time the instruction at `pc` is about to run; from
   * anywhere, a hook's own call included (the run loop looks again after the current instruction).
   */
  setCodeHook(pc: bigint, fn: (() => void) | null): void {
    if (fn) this.codeHooks.set(pc, fn);
    else if (!this.codeHooks.delete(pc)) return;
    const pages = new Map<bigint, Uint8Array>();
    for (const hook of this.codeHooks.keys()) {
      const va = hook & ~BigInt(PAGE_SIZE - 1);
      let bits = pages.get(va);
      if (bits === undefined) pages.set(va, (bits = new Uint8Array(PAGE_SIZE / 32)));
      const idx = Number(hook - va) >>> 2;
      bits[idx >>> 3]! |= 1 << (idx & 7);
    }
    this.hookPageHalves = new Int32Array(BigUint64Array.from(pages.keys()).buffer);
    this.hookPageBits = [...pages.values()];
    this.requestStop(ATTEND);
  }

  codeHook(pc: bigint): (() => void) | undefined {
    return this.codeHooks.get(pc);
  }

  /**
   * Marks `page`, entered through a VA page whose hooked instructions are `hooks`: their records
   * are wrapped in ones whose executor calls the hook first (hookedExec), so that the run loop
   * tests nothing per instruction. The page is shared by the PEs and VA aliases: each marks it
   * again with its own hooks when it enters it, and the wrapper calls only this PE's hook at the
   * VA it runs at.
   */
  private markHooks(page: CodePage, hooks: Uint8Array | null): void {
    const insns = page.insns;
    forEachMarked(page.hookMarks, (i) => {
      const w = insns[i];
      if (w !== undefined && w.exec === hookedExec) insns[i] = w.ops as Insn;
    });
    forEachMarked(hooks, (i) => {
      insns[i] = new Insn(hookedExec, insns[i] ?? this.code.decodeInto(page, i));
    });
    page.hookMarks = hooks;
  }

  /**
   * A hooked record's executor calls this before its instruction: the hook at its VA (pcs[1]),
   * if this PE has one there. The hook sees the PC at that instruction.
   */
  codeHookReached(): void {
    const pc = this.pcs[1]!;
    const hook = this.codeHooks.get(pc);
    if (hook === undefined) return;
    const next = this.pcs[0]!;
    this.pcs[0] = pc;
    hook();
    this.pcs[0] = next;
  }

  /** The hooked instructions of the VA page whose int32 halves are `lo` (page-aligned), `hi`; null when none. */
  private hooksOfPage(lo: number, hi: number): Uint8Array | null {
    const h = this.hookPageHalves;
    for (let i = 0; i < h.length; i += 2) if (h[i] === lo && h[i + 1] === hi) return this.hookPageBits[i >>> 1]!;
    return null;
  }

  /**
   * Whether trace `t` would run past (or, at its head, loop back past) one of its page's hooked
   * instructions `hooks`: it does not run then. A trace found clear remembers `hooks`, which are
   * replaced when they change.
   */
  private hookOnPath(t: Trace, hooks: Uint8Array): boolean {
    if (t.hookFree === hooks) return false;
    const path = t.path;
    for (let i = 0; i < hooks.length; i++) if ((hooks[i]! & path[i]!) !== 0) return true;
    t.hookFree = hooks;
    return false;
  }

  /**
   * After an instruction stepped from active-not-pending completed: unless it took an exception
   * (which saved PSTATE.SS in SPSR), PSTATE.SS clears, and if stepping is still active the software
   * step exception is taken now, before any interrupt (QEMU's IMPLEMENTATION DEFINED choice), with
   * ISV set and EX saying whether the instruction at `pa` was a load-exclusive.
   */
  private stepCompleted(pa: number, entries: number): void {
    if (this.exceptionEntries !== entries) return;
    this.ps.ss = 0;
    if (!softwareStepActive(this)) return;
    const e = softwareStepException(this, true, isLoadExclusive(this.bus.fetch32(pa)));
    takeSync(this, e, this.pcs[0]!);
  }

  /** Executes one instruction (taking any exception it raises). */
  step(): PeStop | null {
    const r = this.run(1, true);
    return r.kind === 'budget' ? null : r;
  }

  /**
   * Runs up to `budget` instructions. Stops early at a breakpoint (before executing it,
   * unless it is the first instruction and `skipBreakAtStart`), on a stop request, or
   * when the machine cannot continue.
   */
  run(budget: number, skipBreakAtStart = false, interrupts = true): PeStop {
    const end = this.icount + budget;
    let first = skipBreakAtStart;
    this.stopRequest = null;
    this.interruptsTaken = interrupts;
    if (interrupts) takePendingInterrupt(this);
    const pcs = this.pcs;
    const p32 = this.pcs32;
    const mmu = this.mmu;
    const bps = this.debug.breakpoints;
    // Locals: an imported constant is loaded and checked at each use in optimised code.
    const PAGE_MASK = PAGE_SIZE - 1;
    const LAST = PAGE_SIZE / 4 - 1;
    // Straight-line execution stays on one decoded page: while the next PC is the previous
    // one plus 4 in the same page and no translation or code changed, the fetch needs
    // neither the TLB nor the page map. The PC is then kept as the page's VA (two int32
    // halves) plus the instruction index, and written to pcs[] through its int32 view, so
    // the sequential path does no BigInt arithmetic and allocates nothing. A handler that
    // branches writes pcs[0]; the compare of its halves after the handler sees that.
    let page: CodePage | null = null;
    let idx = 0;
    let pageLo = 0;
    let pageHi = 0;
    let gen = -1;
    /** The instruction running is being stepped (software step active-not-pending): its PA, else -1. */
    let stepping = -1;
    let entries = 0;
    // Whether the run loop looks for a trace here: not on the straight line after an instruction
    // that had none and was not yet hot (the load of its slot and heat per interpreted
    // instruction showed in the Linux boot's profile); again at every branch, page change and
    // trace exit. Heat therefore gathers at branch targets, where traces start.
    let look = true;
    /** The hooked instructions of the page the PC is in (pageLo, pageHi once it is set up), or null. */
    let hooks: Uint8Array | null = null;
    for (;;) {
      try {
        while (this.icount < end) {
          if (bps.size !== 0 && !first && bps.has(pcs[0]!)) {
            return { kind: 'breakpoint', pc: pcs[0]! };
          }
          first = false;
          if (page === null) {
            const pc = pcs[0]!;
            pcs[1] = pc;
            // Software step, then PC alignment, instruction abort and breakpoint, in the ARM ARM's priority.
            const step = this.selfDebug && softwareStepActive(this);
            if (step && this.ps.ss === 0) throw softwareStepException(this, false, false);
            if ((p32[0]! & 3) !== 0) {
              throw new ArchException(defaultTargetEL(this), EC.PC_ALIGN, 0, pc);
            }
            const pa = mmu.translate(pc, AccessType.Fetch, 0, false);
            if (this.selfDebug) checkBreakpoint(this, pc);
            stepping = step ? pa : -1;
            entries = this.exceptionEntries;
            // After PC alignment and instruction aborts in priority; entry clears PSTATE.IL (SPSR keeps it).
            if (this.ps.il !== 0) throw new ArchException(defaultTargetEL(this), EC.ILLEGAL_STATE, 0);
            gen = mmu.generation;
            page = this.decodeAt(pa);
            idx = (pa & PAGE_MASK) >>> 2;
            pageLo = p32[0]! & ~PAGE_MASK;
            pageHi = p32[1]!;
            hooks = this.hookPageHalves.length === 0 ? null : this.hooksOfPage(pageLo, pageHi);
            if (page.hookMarks !== hooks) this.markHooks(page, hooks);
            look = true;
          }
          // Traces run (and are compiled) only where no breakpoint, guest debug event or code hook has to be seen.
          let t = look && bps.size === 0 && !this.selfDebug ? page.traces[idx] : null;
          if (t === undefined) {
            const hot = this.code.hot;
            if (hot !== 0 && ++page.heat[idx]! >= hot) t = page.traces[idx] = this.code.compileTraceAt(page, idx);
            else look = false;
          }
          if (t !== undefined && t !== null && this.icount + t.len > end) {
            // Longer than the budget left (the slice's tail): the straight line after it is no trace's
            // head either (traces started there only ever ran in such tails, and were compiled for nothing).
            t = null;
            look = false;
          }
          if (t !== undefined && t !== null && (hooks === null || !this.hookOnPath(t, hooks))) {
            // A compiled trace: it leaves with the PC and icount set, at most `end`.
            let next = t.fn(this, this.x, this.ps, pageLo, pageHi, end);
            // Chained: while the next trace fits the budget and nothing the checks above look at can
            // differ (no code hook on its path; breakpoints are none and the guest's debug events off
            // while traces run; PSTATE.IL changes only with the regime, which bumps the generation).
            while (this.stopRequest === null && gen === mmu.generation) {
              if (next < 0) {
                // It left the page: the fetch's own TLB-hit path finds the next one (a miss, a
                // misaligned PC or a PA outside RAM take the full fetch above).
                if ((p32[0]! & 3) !== 0) break;
                const pa = mmu.hit(p32[0]!, p32[1]!, AccessType.Fetch, false);
                if (pa < 0 || pa - this.bus.ramBase < 0 || pa - this.bus.ramBase >= this.bus.ramSize) break;
                page = this.decodeAt(pa);
                next = (pa & PAGE_MASK) >>> 2;
                pageLo = p32[0]! & ~PAGE_MASK;
                pageHi = p32[1]!;
                hooks = this.hookPageHalves.length === 0 ? null : this.hooksOfPage(pageLo, pageHi);
                if (page.hookMarks !== hooks) this.markHooks(page, hooks);
              }
              const u = page.traces[next];
              if (u === undefined || u === null || this.icount + u.len > end) break;
              if (hooks !== null && this.hookOnPath(u, hooks)) break;
              next = u.fn(this, this.x, this.ps, pageLo, pageHi, end);
            }
            if (this.stopRequest !== null) {
              const r = this.attend();
              if (r !== null) return r;
              page = null;
            } else if (next < 0 || gen !== mmu.generation) page = null;
            else idx = next;
            look = true;
            continue;
          }
          // The straight line from here runs in this inner loop, past the checks above while none of
          // them applies: no trace to look for, no breakpoint, code hook or software step.
          const insns = page.insns;
          for (;;) {
            let insn = insns[idx];
            if (insn === undefined) insn = this.code.decodeInto(page, idx);
            // pcs[1] = this instruction's address, pcs[0] = the next one.
            p32[2] = pageLo | (idx << 2);
            p32[3] = pageHi;
            const nextLo = pageLo | ((idx + 1) << 2);
            if (idx !== LAST) {
              p32[0] = nextLo;
              p32[1] = pageHi;
            } else {
              pcs[0] = BigInt.asUintN(64, pcs[1]! + 4n);
            }
            insn.exec(this, insn.ops as never);
            this.icount++;
            if (stepping >= 0) this.stepCompleted(stepping, entries);
            if (this.stopRequest !== null) {
              const r = this.attend();
              if (r !== null) return r;
              page = null;
            } else if (gen !== mmu.generation || this.selfDebug || p32[1] !== pageHi) page = null;
            else if (p32[0] === nextLo && idx !== LAST) {
              idx++;
              if (!look && this.icount < end && bps.size === 0 && stepping < 0) continue;
            } else if ((p32[0]! & ~PAGE_MASK) === pageLo && (p32[0]! & 3) === 0) {
              // A branch within the page: its translation and decoded records stand (same generation).
              idx = (p32[0]! & PAGE_MASK) >>> 2;
              look = true;
            } else page = null;
            break;
          }
        }
        return { kind: 'budget' };
      } catch (e) {
        // The faulting instruction's PA, when it was fetched (not for an instruction abort).
        const pa = page === null ? -1 : page.pa + idx * 4;
        page = null;
        stepping = -1;
        // A fetch from outside RAM is a synchronous external abort on fetch, taken like any other.
        const x = e instanceof BusError ? this.mmu.abort(pcs[1]!, AccessType.Fetch, FSC.SYNC_EXTERNAL) : e;
        if (x instanceof ArchException) {
          const fromEl = this.ps.el;
          takeSync(this, x, pcs[1]!);
          this.icount++;
          const stuck = this.stuck.taken(x, pcs[1]!, fromEl, pa, pcs[0]!, this.icount);
          if (stuck !== null) return { kind: 'stuck', message: stuck };
          if (this.stopRequest !== null) {
            const r = this.attend();
            if (r !== null) return r;
          }
          first = false;
          continue;
        }
        if (e instanceof MachineStop) {
          pcs[0] = pcs[1]!;
          return { kind: 'unimplemented', message: e.message };
        }
        if (e instanceof WatchStop) {
          pcs[0] = pcs[1]!; // the instruction did not happen: it runs again on resume
          return { kind: 'watchpoint', ...e.hit };
        }
        throw e;
      }
    }
  }
}

/** The executor of a hooked instruction's record (markHooks): the PE's code hook, then the instruction. */
function hookedExec(cpu: Cpu, insn: Insn): void {
  cpu.codeHookReached();
  insn.exec(cpu, insn.ops as never);
}

/** Calls `fn` with each instruction index set in `bits` (laid out as a trace's path). */
function forEachMarked(bits: Uint8Array | null, fn: (idx: number) => void): void {
  if (bits === null) return;
  for (let i = 0; i < bits.length; i++) for (let b = bits[i]!; b !== 0; b &= b - 1) fn(i * 8 + 31 - Math.clz32(b & -b));
}

/** MPIDR_EL1 of a PE alone: affinity 0.0.0, bit 31 RES1, U = 0 as QEMU's virt reports it. */
export const UNIPROCESSOR_MPIDR = 0x8000_0000n;
