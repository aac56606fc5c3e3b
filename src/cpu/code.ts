// The decoded-instruction cache: a machine service every PE shares. Decoding depends on
// the bytes of physical memory only, so one cache serves all PEs; a write to a page with
// cached code (by any PE, the loader or the debugger) drops the page and tells every PE.
import { Decoder, executorFor, type AnyEncoding } from './decode.js';
import { A64 } from './a64.js';
import { PhysBus, BusError, PAGE_SHIFT, PAGE_SIZE } from '../board/bus.js';
import { compileTrace, planTrace, type Trace } from './trace.js';
import type { Cpu } from './cpu.js';
import { ArchException, EC, defaultTargetEL } from '../pe/exception.js';

export type Handler = (cpu: Cpu, d: never) => void;

/** One decoded instruction: its row's executor and the operands extracted from it once, at decode. */
export class Insn {
  constructor(
    readonly exec: Handler,
    readonly ops: object,
  ) {}
}

/**
 * Arrivals of the interpreter at an instruction after which `auto` compiles a trace starting
 * there that comes back to its head (a loop): its compile pays back within a few thousand
 * iterations, and a short program's loops no longer stay interpreted (see the README).
 */
export const AUTO_LOOP_THRESHOLD = 4096;

/**
 * Arrivals of the interpreter at an instruction after which `auto` compiles any other trace
 * starting there (straight-line code: it runs once per arrival). Compiling one costs far more
 * than its source's parse: V8 runs it unoptimised, then optimises it (TurboFan, on a
 * background thread whose CPU counts too), and deoptimises and optimises it again when it
 * reaches a path it had not seen; a kernel's code is warm rather than hot. On the whole Debian
 * boot (965M instructions), 4096 arrivals for every trace spent 18% of the process's CPU in
 * TurboFan alone and took more CPU than never compiling; 131072 compiled 589 traces (the boot's
 * real loops: decompression, clearing and copying pages) and took 10-35% less CPU than 4096 in
 * interleaved runs.
 */
export const AUTO_THRESHOLD = 131072;

/** When the run loop compiles a trace: after `hot` arrivals at its head if it loops, after `late` if not. */
export interface JitPolicy {
  /** 0: never (the interpreter alone). */
  readonly hot: number;
  readonly late: number;
}

/**
 * The compile policy, from HYPSTEP_JIT: `auto` (the default) loops after AUTO_LOOP_THRESHOLD
 * arrivals and the rest after AUTO_THRESHOLD, `always` everything that can be compiled at once
 * (the tests' forced mode), `off` nothing (the interpreter alone).
 */
export function jitPolicy(mode = process.env.HYPSTEP_JIT ?? 'auto'): JitPolicy {
  switch (mode) {
    case 'auto':
    case '':
      return { hot: AUTO_LOOP_THRESHOLD, late: AUTO_THRESHOLD };
    case 'always':
      return { hot: 1, late: 1 };
    case 'off':
      return { hot: 0, late: 0 };
    default:
      throw new RangeError(`HYPSTEP_JIT must be always, off or auto, not '${mode}'`);
  }
}

/** Decoded instructions of one physical page, filled lazily. */
export class CodePage {
  constructor(readonly pa: number) {}
  readonly insns: (Insn | undefined)[] = new Array<Insn | undefined>(PAGE_SIZE / 4).fill(undefined);
  /** Compiled traces by first instruction: undefined until hot, null where none is worth it. */
  readonly traces: (Trace | null | undefined)[] = new Array<Trace | null | undefined>(PAGE_SIZE / 4).fill(undefined);
  /**
   * Arrivals of the run loop at each instruction while its trace is undefined, up to the
   * threshold (set back below it when the trace does not loop: it waits for the late one).
   */
  readonly heat = new Int32Array(PAGE_SIZE / 4);
  /** Where a trace was found not to loop, and waits for the late threshold. */
  readonly waiting = new Uint8Array(PAGE_SIZE / 4);
  /**
   * The hooked instructions (a PE's, of the VA page it last entered this page through) whose
   * records call the PE's code hook before executing: see Cpu.markHooks. Null when none.
   */
  hookMarks: Uint8Array | null = null;
}

/** What a PE does when a page of code it may hold a reference to is dropped. */
export interface CodeUser {
  codeInvalidated(page: number): void;
}

export class CodeCache {
  /** By RAM page number (an array: a Map's lookup showed in the Linux boot's profile at every page change). */
  private readonly pages: (CodePage | undefined)[];
  private readonly users: CodeUser[] = [];
  /** Arrivals at an instruction after which the run loop asks for its trace (compileTraceAt); 0: never. */
  readonly hot: number;

  constructor(
    readonly bus: PhysBus,
    readonly decoder = new Decoder(A64),
    /** See jitPolicy. */
    readonly policy = jitPolicy(),
  ) {
    this.hot = policy.hot;
    this.pages = new Array<CodePage | undefined>(bus.codePages.length).fill(undefined);
    bus.onCodeWrite((page) => this.invalidate(page));
  }

  /** Registers a PE to hear of invalidated pages. */
  attach(user: CodeUser): void {
    this.users.push(user);
  }

  invalidate(page: number): void {
    this.pages[page] = undefined;
    this.bus.codePages[page] = 0;
    for (const u of this.users) u.codeInvalidated(page);
  }

  /** Drops every page (a machine reset). */
  clear(): void {
    for (let page = 0; page < this.pages.length; page++) if (this.pages[page] !== undefined) this.invalidate(page);
  }

  /** The page of decoded instructions holding physical address `pa` (RAM only). */
  page(pa: number): CodePage {
    const off = pa - this.bus.ramBase;
    if (off < 0 || off >= this.bus.ramSize) throw new BusError(pa);
    const pageNum = off >>> PAGE_SHIFT;
    let page = this.pages[pageNum];
    if (page === undefined) {
      page = new CodePage(pa - (pa & (PAGE_SIZE - 1)));
      this.pages[pageNum] = page;
      this.bus.codePages[pageNum] = 1;
    }
    return page;
  }

  decodeInto(page: CodePage, idx: number): Insn {
    const raw = this.bus.fetch32(page.pa + idx * 4);
    const e = this.decoder.find(raw) ?? UNALLOCATED;
    const d = e.extract(raw);
    return (page.insns[idx] = new Insn(executorFor(e, d), d));
  }

  /**
   * The trace starting at instruction `idx`, which the run loop has arrived at `hot` times: a
   * loop's is compiled now, another's (undefined until then) once the arrivals reach `late`.
   */
  compileTraceAt(page: CodePage, idx: number): Trace | null | undefined {
    const row = (i: number): { e: AnyEncoding; d: object } => {
      const raw = this.bus.fetch32(page.pa + i * 4);
      const e = this.decoder.find(raw) ?? UNALLOCATED;
      return { e, d: e.extract(raw) };
    };
    const plan = planTrace(row, idx, PAGE_SIZE / 4);
    const { hot, late } = this.policy;
    if (plan.backEdges === 0 && late > hot && page.waiting[idx] === 0) {
      page.waiting[idx] = 1;
      page.heat[idx] = hot - (late - hot);
      return undefined;
    }
    return compileTrace(row, idx, PAGE_SIZE / 4, page.pa, plan);
  }
}

/** Every encoding no table claims: UNDEFINED. */
const UNALLOCATED: AnyEncoding = {
  name: 'UNALLOCATED',
  pattern: 'x',
  mask: 0,
  value: 0,
  extract: (raw: number) => ({ raw }),
  exec: (cpu: Cpu) => {
    throw new ArchException(defaultTargetEL(cpu), EC.UNKNOWN, 0);
  },
};
