// The gdb stub's Target over hypstep's Machine: one thread per PE (thread N is PE N-1),
// registers, memory through the selected view as that PE sees it, execution in time slices
// (so the event loop hears 0x03 and new connections), and the breakpoint and watchpoint
// plumbing (breakpoints.ts).
import type { Machine, RunOptions } from '../board/machine.js';
import { Wait, type Cpu, type StopReason as CpuStop } from '../cpu/cpu.js';
import type { WatchHit } from '../cpu/debug-port.js';
import { PAGE_SIZE } from '../board/bus.js';
import {
  SIGNAL,
  type DebuggerPresence,
  type Interrupt,
  type ResumePlan,
  type SymbolLookup,
  type Target,
  type TargetStop,
  type ThreadId,
} from '../../gdbstub/target.js';
import type { AgentEnvironment } from '../../gdbstub/agent.js';
import { buildRegisters, FEATURES, REG, readRegister, writeRegister, type DebugRegister } from './registers.js';
import { MmuWalker, type DebugWalker, type MemoryView } from './translate.js';
import { DebugPoints, type WorldView } from './breakpoints.js';

/**
 * Execution runs in chunks of instructions, sized to take about CHUNK_MS, and the event loop
 * gets a turn every TURN_MS (so ^C and a new connection are heard). The cap on a chunk bounds
 * how long one can take when the code turns slow mid-chunk: an exception taken on every
 * instruction costs ~6 µs each with the world layer, so 64 Ki of them take 0.4 s — where
 * the former 4 M-instruction slices, grown in fast code, took tens of seconds (the ~60 s
 * stalls of a fuzz campaign; test/gdb/interrupt.test.ts holds the bound).
 */
const MIN_CHUNK = 1_000;
const MAX_CHUNK = 65_536;
const CHUNK_MS = 1;
const TURN_MS = 15;

export class MachineTarget implements Target {
  readonly architecture = 'aarch64';
  readonly features = FEATURES;
  /** The table's registers and those the machine's devices added (the GIC's ICC_* and ICH_*). */
  readonly registers: readonly DebugRegister[];
  /** Every register rides in `g`: one round trip for `info registers` instead of one per sysreg. */
  readonly gRegisterCount: number;
  readonly expedited = [REG.SP, REG.PC, REG.CPSR];

  /** The debugger's memory view (`monitor memory …`). */
  view: MemoryView = 'current';
  /**
   * Whether a single step may take a pending interrupt (`monitor step-irq`); off by default,
   * as QEMU's gdbstub steps with SSTEP_NOIRQ: a step then runs the next instruction rather than
   * entering a vector.
   */
  stepIrq = false;
  /** The world layer's view of each PE, once it is attached (world-qualified breakpoints, thread info). */
  world: WorldView | null = null;
  readonly breakpoints: DebugPoints;
  /** Called when a debugger goes away, so layers drop what only a debugger needed (catches). */
  readonly detachHooks: (() => void)[] = [];
  /**
   * Keep catches and the stub's breakpoints when the debugger leaves, and stop for them with
   * nobody attached (the server then holds the machine for the next debugger).
   */
  holdForDebugger = false;
  private attended = false;

  private readonly walkers: DebugWalker[];
  private isRunning = false;
  private exited: TargetStop | null = null;
  private raised: TargetStop | null = null;
  private chunk = 16_384;
  /** The watch hook ignores the first instruction of a resume: it already reported that access. */
  private watchSkip: { cpu: Cpu; icount: number } | null = null;
  /** The thread whose stop was reported last. */
  private reported: ThreadId = 1;
  private readonly gdbSymbols = new Map<string, bigint | undefined>();
  private readonly wanted = new Set<string>();

  constructor(
    readonly machine: Machine,
    walker?: DebugWalker,
  ) {
    this.registers = buildRegisters(machine.sysregs.deviceRegisters);
    this.gRegisterCount = this.registers.length;
    this.walkers = this.pes.map((cpu) => walker ?? new MmuWalker(cpu));
    this.breakpoints = new DebugPoints(
      () => this.pes,
      () => this.world,
    );
    for (const cpu of this.pes) cpu.debug.watch = (va, size, write) => this.checkWatch(cpu, va, size, write);
  }

  /** The PEs, in thread order. */
  get pes(): readonly Cpu[] {
    return this.machine.pes;
  }

  get running(): boolean {
    return this.isRunning;
  }

  // --- threads -----------------------------------------------------------------------------

  threads(): readonly ThreadId[] {
    return this.pes.map((_, i) => i + 1);
  }

  /** The PE of a thread; the stub only passes ids from `threads()`. */
  pe(thread: ThreadId): Cpu {
    const cpu = this.pes[thread - 1];
    if (!cpu) throw new Error(`no thread ${thread}`);
    return cpu;
  }

  walker(thread: ThreadId): DebugWalker {
    this.pe(thread);
    return this.walkers[thread - 1]!;
  }

  /** 'PE1 EL1 guest vmid 2', 'PE0 EL2 host': the PE, its EL, and its world when the world layer says. */
  threadExtraInfo(thread: ThreadId): string {
    const cpu = this.pe(thread);
    const pe = thread - 1;
    const w = this.world;
    const world = w === null ? '' : w.inGuest(pe) ? ` guest vmid ${w.vmid(pe)}` : ' host';
    return `PE${pe} EL${cpu.ps.el}${world}`;
  }

  // --- registers -------------------------------------------------------------------------

  readRegister(thread: ThreadId, n: number): bigint | undefined {
    const r = this.registers[n];
    return r ? readRegister(this.pe(thread), r.access) : undefined;
  }

  writeRegister(thread: ThreadId, n: number, v: bigint): boolean {
    const r = this.registers[n];
    return r !== undefined && writeRegister(this.pe(thread), r.access, BigInt.asUintN(r.bitsize, v));
  }

  // --- memory ----------------------------------------------------------------------------

  /**
   * `length` bytes at `addr` in the current view as physical pieces, none crossing a page;
   * they stop short where an address does not translate.
   */
  private pieces(
    thread: ThreadId,
    addr: bigint,
    length: number,
    access: 'read' | 'write',
  ): { pa: number; from: number; n: number }[] {
    const walker = this.walker(thread);
    const out: { pa: number; from: number; n: number }[] = [];
    for (let done = 0; done < length;) {
      const pa = walker.pa(BigInt.asUintN(64, addr + BigInt(done)), this.view, access);
      if (pa === undefined) break;
      const n = Math.min(length - done, PAGE_SIZE - (pa & (PAGE_SIZE - 1)));
      out.push({ pa, from: done, n });
      done += n;
    }
    return out;
  }

  readMemory(thread: ThreadId, addr: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    for (const p of this.pieces(thread, addr, length, 'read')) {
      // peek refuses device memory: a debugger read must not pop a UART FIFO.
      if (!this.machine.bus.peek(p.pa, out.subarray(p.from, p.from + p.n))) break;
      done += p.n;
    }
    return out.subarray(0, done);
  }

  writeMemory(thread: ThreadId, addr: bigint, data: Uint8Array): boolean {
    const pieces = this.pieces(thread, addr, data.length, 'write');
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

  // --- watchpoints and conditions -----------------------------------------------------------

  private checkWatch(cpu: Cpu, va: bigint, size: number, write: boolean): WatchHit | null {
    if (cpu === this.watchSkip?.cpu && cpu.icount === this.watchSkip.icount) return null;
    return this.breakpoints.watchHit(va, size, write);
  }

  /** What a breakpoint condition of `thread` reads: its registers, and memory as it sees it. */
  private agentEnvironment(thread: ThreadId): AgentEnvironment {
    return {
      register: (n) => this.readRegister(thread, n),
      memory: (addr, size) => {
        const b = this.readMemory(thread, addr, size);
        if (b.length < size) return undefined;
        let v = 0n;
        for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
        return v;
      },
    };
  }

  // --- execution ---------------------------------------------------------------------------

  /**
   * Stops the machine after the current instruction of `cpu` with `stop` (an observer such
   * as the world layer calls this from inside an event to "catch" it).
   */
  raiseStop(stop: Omit<Extract<TargetStop, { kind: 'stopped' }>, 'kind' | 'thread'>, cpu = this.pes[0]!): void {
    // Nobody to stop for: the layer's own output (a hazard line, the report) says it, and the run goes on.
    if (!this.attended && !this.holdForDebugger) return;
    this.raised = { kind: 'stopped', thread: this.pes.indexOf(cpu) + 1, ...stop };
    cpu.requestStop({ kind: 'requested', why: 'debugger' });
  }

  /**
   * Runs the plan, all-stop: when any PE stops, every PE is stopped. PEs the plan names take
   * their round-robin turns; those it leaves out stay still (gdb's `scheduler-locking on`).
   * A step ends when the stepped PE has retired one instruction (the others may run meanwhile,
   * as their turns fall). The interrupt is looked at before anything runs and between slices,
   * so one that arrived while the resume was queued still stops it.
   */
  async resume(plan: ResumePlan, interrupt: Interrupt): Promise<TargetStop> {
    if (this.exited) return this.exited;
    if (this.isRunning) throw new Error('resume while running');
    const threads = [...plan.keys()].filter((t) => this.pes[t - 1] !== undefined);
    if (threads.length === 0) throw new Error('the plan resumes no PE');
    const stepping = threads.find((t) => plan.get(t) === 'step');
    const frozen = new Set(this.pes.filter((_, i) => !plan.has(i + 1)));
    const opts: RunOptions = {
      frozen: frozen.size > 0 ? frozen : undefined,
      masked: stepping !== undefined && !this.stepIrq ? this.pe(stepping) : undefined,
    };
    this.isRunning = true;
    try {
      const stop = await this.runPlan(threads, stepping, opts, interrupt);
      if (stop.kind === 'stopped') this.reported = stop.thread;
      return stop;
    } finally {
      this.isRunning = false;
    }
  }

  private async runPlan(
    threads: readonly ThreadId[],
    stepping: ThreadId | undefined,
    opts: RunOptions,
    interrupt: Interrupt,
  ): Promise<TargetStop> {
    const sigint = (): TargetStop => ({ kind: 'stopped', thread: this.current(), signal: SIGNAL.INT });
    if (interrupt.requested) return sigint();
    // The PE that reported the last stop first retires the instruction at its PC alone: the
    // breakpoint or watchpoint there was already reported.
    const reported = threads.includes(this.reported) ? this.reported : (stepping ?? threads[0]!);
    const steppedAt = stepping === undefined ? 0 : this.pe(stepping).icount;
    // With `monitor step-irq on`, a step that finds an interrupt pending enters its vector, and
    // that is the step (QEMU's single step without SSTEP_NOIRQ stops there too).
    if (stepping !== undefined && this.stepIrq && this.pe(stepping).takeInterrupt()) {
      return { kind: 'stopped', thread: stepping, signal: SIGNAL.TRAP };
    }
    const first = await this.stepOver(reported, opts, true, interrupt);
    if (first !== null) return first;
    if (stepping !== undefined) {
      const cpu = this.pe(stepping);
      const stop = await this.until(() => cpu.icount !== steppedAt || !this.awake(cpu), opts, interrupt);
      return stop ?? { kind: 'stopped', thread: stepping, signal: SIGNAL.TRAP };
    }
    for (;;) {
      if (interrupt.requested) return sigint();
      const turnEnd = performance.now() + TURN_MS;
      for (let now = 0; now < turnEnd;) {
        const t0 = performance.now();
        const stop = this.runSlice(this.chunk, opts);
        if (stop !== null) return stop;
        now = performance.now();
        if (now - t0 < CHUNK_MS / 2) this.chunk = Math.min(MAX_CHUNK, this.chunk * 2);
        else if (now - t0 > CHUNK_MS * 2) this.chunk = Math.max(MIN_CHUNK, this.chunk >> 1);
      }
      await new Promise<void>((res) => setImmediate(res));
    }
  }

  /** The thread of the PE that ran last. */
  private current(): ThreadId {
    return this.machine.current.index + 1;
  }

  /** Whether a PE can retire instructions (on and not asleep). */
  private awake(cpu: Cpu): boolean {
    return cpu.on && cpu.waiting === Wait.None;
  }

  /**
   * Runs single instructions (of whichever PE's turn it is) until `done`, a stop, or the
   * interrupt; null when `done` came first.
   */
  private async until(done: () => boolean, opts: RunOptions, interrupt: Interrupt): Promise<TargetStop | null> {
    for (let n = 1; !done(); n++) {
      const stop = this.runSlice(1, opts);
      if (stop !== null) return stop;
      if (n % 4096 === 0) {
        await new Promise<void>((res) => setImmediate(res));
        if (interrupt.requested) return { kind: 'stopped', thread: this.current(), signal: SIGNAL.INT };
      }
    }
    return null;
  }

  /**
   * Runs until the PE of `thread` has retired the instruction at its PC, with its breakpoint
   * there (and, unless `watchToo` is false, a watchpoint that instruction hits) not stopping it.
   */
  private async stepOver(
    thread: ThreadId,
    opts: RunOptions,
    watchToo: boolean,
    interrupt: Interrupt,
  ): Promise<TargetStop | null> {
    const cpu = this.pe(thread);
    const pc = cpu.pcs[0]!;
    const start = cpu.icount;
    const hadBp = cpu.debug.breakpoints.delete(pc);
    if (watchToo) this.watchSkip = { cpu, icount: start };
    try {
      return await this.until(() => cpu.icount !== start || !this.awake(cpu), opts, interrupt);
    } finally {
      if (hadBp) cpu.debug.breakpoints.add(pc);
      this.watchSkip = null;
    }
  }

  /** Runs up to `budget` instructions; null when the budget ran out with nothing to report. */
  private runSlice(budget: number, opts: RunOptions): TargetStop | null {
    const m = this.machine;
    let r: CpuStop;
    try {
      r = m.run(budget, opts);
    } catch (e) {
      // A bug in the emulator: report it to the debugger rather than die with a stack trace.
      m.flush();
      const msg = e instanceof Error ? e.message : String(e);
      return {
        kind: 'stopped',
        thread: this.current(),
        signal: SIGNAL.ABRT,
        message: `[hypstep] internal error at PC 0x${m.current.pcs[1]!.toString(16)}: ${msg} (please report it)`,
      };
    }
    return this.translateStop(this.current(), r, opts);
  }

  private translateStop(thread: ThreadId, r: CpuStop, opts: RunOptions): TargetStop | null {
    switch (r.kind) {
      case 'budget':
        return null;
      case 'breakpoint': {
        const hit = this.breakpoints.decide(thread - 1, r.pc, this.agentEnvironment(thread));
        // Not a stop (a false condition, another world): step over it (its watchpoints still apply) and go on.
        if (hit === null) return this.stepOverNow(thread, opts);
        return { kind: 'stopped', thread, signal: SIGNAL.TRAP, ...hit };
      }
      case 'watchpoint':
        return { kind: 'stopped', thread, signal: SIGNAL.TRAP, reason: { type: r.type, addr: r.addr } };
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
          thread,
          signal: SIGNAL.ABRT,
          message: `[hypstep] emulator stopped at PC 0x${this.pe(thread).pcs[0]!.toString(16)}: ${r.message}`,
        };
      case 'stuck':
        // A crash, as gdb knows one: the PE loops on a missing vector.
        return { kind: 'stopped', thread, signal: SIGNAL.SEGV, message: `[hypstep] ${r.message}` };
      case 'idle':
        // Nothing will happen until the debugger changes something: stop where the machine is.
        return { kind: 'stopped', thread, signal: SIGNAL.TRAP, message: `[hypstep] ${r.message}` };
      case 'requested': {
        const raised = this.raised;
        this.raised = null;
        return raised; // null: a board-level stop (PSCI reset) the machine has already handled
      }
    }
  }

  /**
   * stepOver for a breakpoint that is not a stop, from inside a slice: the PE is the one whose
   * turn it is, so its next instruction is the next one the machine runs.
   */
  private stepOverNow(thread: ThreadId, opts: RunOptions): TargetStop | null {
    const cpu = this.pe(thread);
    const pc = cpu.pcs[0]!;
    const hadBp = cpu.debug.breakpoints.delete(pc);
    try {
      return this.runSlice(1, opts);
    } finally {
      if (hadBp) cpu.debug.breakpoints.add(pc);
    }
  }

  reset(): void {
    this.machine.reset();
    this.exited = null;
    this.raised = null;
  }

  readonly presence: DebuggerPresence = {
    attached: () => {
      this.attended = true;
    },
    left: () => {
      this.attended = false;
      if (this.holdForDebugger) return;
      this.breakpoints.clearOwned();
      for (const h of this.detachHooks) h();
    },
  };

  // --- symbols from gdb --------------------------------------------------------------------

  /** Asks gdb (at its next qSymbol exchange) for a symbol's address. */
  wantSymbol(name: string): void {
    this.wanted.add(name);
  }
  readonly symbols: SymbolLookup = {
    wanted: () => [...this.wanted].filter((n) => !this.gdbSymbols.has(n)),
    found: (name, value) => void this.gdbSymbols.set(name, value),
  };
  /** A symbol's address: from gdb if it told us, else from the loaded ELF. */
  symbol(name: string): bigint | undefined {
    return this.gdbSymbols.get(name) ?? this.machine.symbol(name);
  }
}
