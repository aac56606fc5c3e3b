// The gdb stub's Target over hypstep's Machine: registers, memory through the selected
// view, execution in time slices (so the event loop hears 0x03 and new connections), and
// the breakpoint and watchpoint plumbing.
import type { Machine } from '../board/machine.js';
import type { StopReason as CpuStop } from '../cpu/cpu.js';
import { PAGE_SIZE } from '../board/bus.js';
import { SIGNAL, type BreakpointType, type Target, type TargetStop, type StopReason } from '../../gdbstub/target.js';
import { buildRegisters, FEATURES, REG, readRegister, writeRegister, type DebugRegister } from './registers.js';
import { MmuWalker, type DebugWalker, type MemoryView } from './translate.js';

/** Thrown from the CPU's watch hook to stop before the access, as AArch64 watchpoints do. */
class WatchHit {
  constructor(readonly reason: StopReason) {}
}

interface Watchpoint {
  type: 'write' | 'read' | 'access';
  addr: bigint;
  end: bigint;
}

/** Consulted when a breakpoint is hit; false lets execution go on (e.g. world-qualified breakpoints). */
export type BreakpointFilter = (addr: bigint, type: 'sw' | 'hw') => boolean;

const MIN_SLICE = 1_000;
const MAX_SLICE = 4_000_000;
/** Wall time per slice: short enough that ^C and a new connection feel immediate. */
const SLICE_MS = 15;

export class MachineTarget implements Target {
  readonly architecture = 'aarch64';
  readonly features = FEATURES;
  readonly registers: readonly DebugRegister[] = buildRegisters();
  /** Every register rides in `g`: one round trip for `info registers` instead of one per sysreg. */
  readonly gRegisterCount = this.registers.length;
  readonly expedited = [REG.SP, REG.PC, REG.CPSR];

  /** The debugger's memory view (`monitor memory …`). */
  view: MemoryView = 'current';
  walker: DebugWalker;
  /** Whether single-step enters pending interrupts (`monitor step-irq`); no interrupt sources exist yet. */
  stepIrq = false;
  readonly breakpointFilters: BreakpointFilter[] = [];

  private readonly sw = new Map<bigint, number>();
  private readonly hw = new Map<bigint, number>();
  private watchpoints: Watchpoint[] = [];
  private isRunning = false;
  private interruptRequested = false;
  private exited: TargetStop | null = null;
  private raised: TargetStop | null = null;
  private slice = 50_000;
  /** The watch hook ignores the first instruction of a resume: it already reported that access. */
  private watchSkipIcount = -1;
  private readonly symbols = new Map<string, bigint | undefined>();
  private readonly wanted = new Set<string>();

  constructor(
    readonly machine: Machine,
    walker?: DebugWalker,
  ) {
    this.walker = walker ?? new MmuWalker(machine.cpu);
    machine.cpu.watcher = (va, size, write) => this.checkWatch(va, size, write);
  }

  get running(): boolean {
    return this.isRunning;
  }

  // --- registers -------------------------------------------------------------------------

  readRegister(n: number): bigint | undefined {
    const r = this.registers[n];
    return r ? readRegister(this.machine.cpu, r.access) : undefined;
  }

  writeRegister(n: number, v: bigint): boolean {
    const r = this.registers[n];
    return r !== undefined && writeRegister(this.machine.cpu, r.access, BigInt.asUintN(r.bitsize, v));
  }

  // --- memory ----------------------------------------------------------------------------

  /**
   * `length` bytes at `addr` in the current view as physical pieces, none crossing a page;
   * they stop short where an address does not translate.
   */
  private pieces(addr: bigint, length: number, access: 'read' | 'write'): { pa: number; from: number; n: number }[] {
    const out: { pa: number; from: number; n: number }[] = [];
    for (let done = 0; done < length;) {
      const pa = this.walker.pa(BigInt.asUintN(64, addr + BigInt(done)), this.view, access);
      if (pa === undefined) break;
      const n = Math.min(length - done, PAGE_SIZE - (pa & (PAGE_SIZE - 1)));
      out.push({ pa, from: done, n });
      done += n;
    }
    return out;
  }

  readMemory(addr: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    for (const p of this.pieces(addr, length, 'read')) {
      // peek refuses device memory: a debugger read must not pop a UART FIFO.
      if (!this.machine.bus.peek(p.pa, out.subarray(p.from, p.from + p.n))) break;
      done += p.n;
    }
    return out.subarray(0, done);
  }

  writeMemory(addr: bigint, data: Uint8Array): boolean {
    const pieces = this.pieces(addr, data.length, 'write');
    let covered = 0;
    for (const p of pieces) {
      if (!this.machine.bus.isRam(p.pa, p.n)) return false;
      covered += p.n;
    }
    if (covered < data.length) return false;
    // poke invalidates decoded instructions of the pages written.
    for (const p of pieces) this.machine.bus.poke(p.pa, data.subarray(p.from, p.from + p.n));
    return true;
  }

  // --- breakpoints and watchpoints ---------------------------------------------------------

  insertBreakpoint(type: BreakpointType, addr: bigint, length: number): boolean | 'unsupported' {
    if (type === 'sw' || type === 'hw') {
      const m = type === 'sw' ? this.sw : this.hw;
      m.set(addr, (m.get(addr) ?? 0) + 1);
      this.machine.cpu.breakpoints.add(addr);
      return true;
    }
    this.watchpoints.push({ type, addr, end: addr + BigInt(length) });
    this.machine.cpu.watchCount = this.watchpoints.length;
    return true;
  }

  removeBreakpoint(type: BreakpointType, addr: bigint, length: number): boolean | 'unsupported' {
    if (type === 'sw' || type === 'hw') {
      const m = type === 'sw' ? this.sw : this.hw;
      const n = m.get(addr);
      if (n === undefined) return false;
      if (n > 1) m.set(addr, n - 1);
      else m.delete(addr);
      if (!this.sw.has(addr) && !this.hw.has(addr)) this.machine.cpu.breakpoints.delete(addr);
      return true;
    }
    const end = addr + BigInt(length);
    const i = this.watchpoints.findIndex((w) => w.type === type && w.addr === addr && w.end === end);
    if (i < 0) return false;
    this.watchpoints.splice(i, 1);
    this.machine.cpu.watchCount = this.watchpoints.length;
    return true;
  }

  removeAllBreakpoints(): void {
    this.sw.clear();
    this.hw.clear();
    this.machine.cpu.breakpoints.clear();
    this.watchpoints = [];
    this.machine.cpu.watchCount = 0;
  }

  private checkWatch(va: bigint, size: number, write: boolean): void {
    const cpu = this.machine.cpu;
    if (cpu.icount === this.watchSkipIcount) return;
    const end = va + BigInt(size);
    for (const w of this.watchpoints) {
      if (w.type === 'write' && !write) continue;
      if (w.type === 'read' && write) continue;
      if (va < w.end && end > w.addr) {
        const type = w.type === 'write' ? 'watch' : w.type === 'read' ? 'rwatch' : 'awatch';
        throw new WatchHit({ type, addr: va > w.addr ? va : w.addr });
      }
    }
  }

  // --- execution ---------------------------------------------------------------------------

  interrupt(): void {
    if (this.isRunning) this.interruptRequested = true;
  }

  /**
   * Stops the machine after the current instruction with `stop` (an observer such as the
   * world layer calls this from inside an event to "catch" it).
   */
  raiseStop(stop: TargetStop): void {
    this.raised = stop;
    this.machine.cpu.requestStop({ kind: 'requested', why: 'debugger' });
  }

  async resume(action: 'step' | 'continue'): Promise<TargetStop> {
    if (this.exited) return this.exited;
    if (this.isRunning) throw new Error('resume while running');
    this.isRunning = true;
    this.interruptRequested = false;
    try {
      // The first instruction runs alone: a breakpoint or watchpoint at the PC was already reported.
      const first = this.runSlice(1, true);
      if (first !== null || action === 'step') return first ?? { kind: 'stopped', signal: SIGNAL.TRAP };
      for (;;) {
        if (this.interruptRequested) return { kind: 'stopped', signal: SIGNAL.INT };
        const t0 = performance.now();
        const stop = this.runSlice(this.slice, false);
        if (stop !== null) return stop;
        const ms = performance.now() - t0;
        if (ms < SLICE_MS / 2) this.slice = Math.min(MAX_SLICE, this.slice * 2);
        else if (ms > SLICE_MS * 2) this.slice = Math.max(MIN_SLICE, this.slice >> 1);
        await new Promise<void>((res) => setImmediate(res));
      }
    } finally {
      this.isRunning = false;
    }
  }

  /**
   * Runs up to `budget` instructions; null when the budget ran out with nothing to report.
   * `first`: the breakpoint at the PC (and, unless `watchToo` is false, a watchpoint hit by
   * this instruction) was already reported and must not stop it again.
   */
  private runSlice(budget: number, first: boolean, watchToo = true): TargetStop | null {
    const m = this.machine;
    const cpu = m.cpu;
    const pc = cpu.pcs[0]!;
    const hadBp = first && cpu.breakpoints.delete(pc);
    if (first && watchToo) this.watchSkipIcount = cpu.icount;
    let r: CpuStop;
    try {
      r = m.run(budget);
    } catch (e) {
      m.flush();
      if (!(e instanceof WatchHit)) {
        // A bug in the emulator: report it to the debugger rather than die with a stack trace.
        const msg = e instanceof Error ? e.message : String(e);
        return {
          kind: 'stopped',
          signal: SIGNAL.ABRT,
          message: `[hypstep] internal error at PC 0x${cpu.pcs[1]!.toString(16)}: ${msg} (please report it)`,
        };
      }
      cpu.pcs[0] = cpu.pcs[1]!; // the instruction did not happen; it runs again on resume
      return { kind: 'stopped', signal: SIGNAL.TRAP, reason: e.reason };
    } finally {
      if (hadBp) cpu.breakpoints.add(pc);
      this.watchSkipIcount = -1;
    }
    return this.translateStop(r);
  }

  private translateStop(r: CpuStop): TargetStop | null {
    switch (r.kind) {
      case 'budget':
        return null;
      case 'breakpoint': {
        const type = this.sw.has(r.pc) ? 'sw' : 'hw';
        if (!this.breakpointFilters.every((f) => f(r.pc, type))) {
          // Not for this debugger's purpose: step over it (its watchpoints still apply) and go on.
          return this.runSlice(1, true, false);
        }
        return { kind: 'stopped', signal: SIGNAL.TRAP, reason: { type: type === 'sw' ? 'swbreak' : 'hwbreak' } };
      }
      case 'exit':
        this.exited = {
          kind: 'exited',
          code: r.code,
          message: `[hypstep] guest exited with status ${r.code} (${r.why})`,
        };
        return this.exited;
      case 'unimplemented':
        return {
          kind: 'stopped',
          signal: SIGNAL.ABRT,
          message: `[hypstep] emulator stopped at PC 0x${this.machine.cpu.pcs[0]!.toString(16)}: ${r.message}`,
        };
      case 'requested': {
        const raised = this.raised;
        this.raised = null;
        if (raised) return raised;
        return null; // a board-level stop (PSCI reset) the machine has already handled
      }
    }
  }

  reset(): void {
    this.machine.reset();
    this.exited = null;
    this.raised = null;
  }

  // --- symbols from gdb --------------------------------------------------------------------

  /** Asks gdb (at its next qSymbol exchange) for a symbol's address. */
  wantSymbol(name: string): void {
    this.wanted.add(name);
  }
  wantedSymbols(): readonly string[] {
    return [...this.wanted].filter((n) => !this.symbols.has(n));
  }
  symbolFound(name: string, value: bigint | undefined): void {
    this.symbols.set(name, value);
  }
  /** A symbol's address: from gdb if it told us, else from the loaded ELF. */
  symbol(name: string): bigint | undefined {
    return this.symbols.get(name) ?? this.machine.symbol(name);
  }
}
