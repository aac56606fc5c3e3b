// The decoded-instruction cache: a machine service every PE shares. Decoding depends on
// the bytes of physical memory only, so one cache serves all PEs; a write to a page with
// cached code (by any PE, the loader or the debugger) drops the page and tells every PE.
import { Decoder, type AnyEncoding } from './decode.js';
import { A64 } from './a64.js';
import { PhysBus, BusError, PAGE_SHIFT, PAGE_SIZE } from '../board/bus.js';
import { compileTrace, type Trace } from './trace.js';
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
 * there. Compiling one costs far more than its source's parse: V8 runs it unoptimised, then
 * optimises it (TurboFan, on a background thread whose CPU counts too), and deoptimises and
 * optimises it again when it reaches a path it had not seen; a kernel's code is warm rather
 * than hot. On the whole Debian boot (965M instructions), 4096 arrivals spent 18% of the
 * process's CPU in TurboFan alone and took more CPU than never compiling; 131072 compiles 589
 * traces (the boot's real loops: decompression, clearing and copying pages) and took 10-35% less
 * CPU than 4096 in interleaved runs (a loop of `npm run bench` still reaches it in well under a second).
 */
export const AUTO_THRESHOLD = 131072;

/**
 * Arrivals of the run loop at an instruction after which a trace starting there is compiled,
 * from HYPSTEP_JIT: `auto` (the default) AUTO_THRESHOLD, `always` 1 (everything that can be
 * compiled is, at once: the tests' forced mode), `off` 0 (never: the interpreter alone).
 */
export function jitThreshold(mode = process.env.HYPSTEP_JIT ?? 'auto'): number {
  switch (mode) {
    case 'auto':
    case '':
      return AUTO_THRESHOLD;
    case 'always':
      return 1;
    case 'off':
      return 0;
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
  /** Arrivals of the run loop at each instruction while its trace is undefined, up to the threshold. */
  readonly heat = new Uint32Array(PAGE_SIZE / 4);
}

/** What a PE does when a page of code it may hold a reference to is dropped. */
export interface CodeUser {
  codeInvalidated(page: number): void;
}

export class CodeCache {
  /** By RAM page number (an array: a Map's lookup showed in the Linux boot's profile at every page change). */
  private readonly pages: (CodePage | undefined)[];
  private readonly users: CodeUser[] = [];

  constructor(
    readonly bus: PhysBus,
    readonly decoder = new Decoder(A64),
    /** See jitThreshold. */
    readonly hot = jitThreshold(),
  ) {
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
    return (page.insns[idx] = new Insn(e.exec, e.extract(raw)));
  }

  compileTraceAt(page: CodePage, idx: number): Trace | null {
    return compileTrace(
      (i) => {
        const raw = this.bus.fetch32(page.pa + i * 4);
        const e = this.decoder.find(raw) ?? UNALLOCATED;
        return { e, d: e.extract(raw) };
      },
      idx,
      PAGE_SIZE / 4,
      page.pa,
    );
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
