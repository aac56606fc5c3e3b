// The decoded-instruction cache: a machine service every PE shares. Decoding depends on
// the bytes of physical memory only, so one cache serves all PEs; a write to a page with
// cached code (by any PE, the loader or the debugger) drops the page and tells every PE.
import { Decoder, type AnyEncoding } from './decode.js';
import { A64 } from './a64.js';
import { PhysBus, BusError, PAGE_SHIFT, PAGE_SIZE } from '../board/bus.js';
import { compileBlock, type Block } from './jit.js';
import type { Cpu } from './cpu.js';
import { ArchException, EC, defaultTargetEL } from '../pe/exception.js';

export type Handler = (cpu: Cpu, d: never) => void;

/** Decoded instructions of one physical page, filled lazily. */
export class CodePage {
  constructor(readonly pa: number) {}
  readonly fns: (Handler | undefined)[] = new Array<Handler | undefined>(PAGE_SIZE / 4).fill(undefined);
  readonly ops: object[] = new Array<object>(PAGE_SIZE / 4);
  /** Compiled blocks by first instruction: undefined until hot, null where none can start. */
  readonly blocks: (Block | null | undefined)[] = new Array<Block | null | undefined>(PAGE_SIZE / 4).fill(undefined);
  /** Executions of each instruction while its block is undefined, up to BLOCK_HOT. */
  readonly heat = new Uint8Array(PAGE_SIZE / 4);
}

/** What a PE does when a page of code it may hold a reference to is dropped. */
export interface CodeUser {
  codeInvalidated(page: number): void;
}

export class CodeCache {
  private readonly pages = new Map<number, CodePage>();
  private readonly users: CodeUser[] = [];

  constructor(
    readonly bus: PhysBus,
    readonly decoder = new Decoder(A64),
  ) {
    bus.onCodeWrite((page) => this.invalidate(page));
  }

  /** Registers a PE to hear of invalidated pages. */
  attach(user: CodeUser): void {
    this.users.push(user);
  }

  invalidate(page: number): void {
    this.pages.delete(page);
    this.bus.codePages[page] = 0;
    for (const u of this.users) u.codeInvalidated(page);
  }

  /** Drops every page (a machine reset). */
  clear(): void {
    for (const page of [...this.pages.keys()]) this.invalidate(page);
  }

  /** The page of decoded instructions holding physical address `pa` (RAM only). */
  page(pa: number): CodePage {
    const off = pa - this.bus.ramBase;
    if (off < 0 || off >= this.bus.ramSize) throw new BusError(pa);
    const pageNum = off >>> PAGE_SHIFT;
    let page = this.pages.get(pageNum);
    if (page === undefined) {
      page = new CodePage(pa - (pa & (PAGE_SIZE - 1)));
      this.pages.set(pageNum, page);
      this.bus.codePages[pageNum] = 1;
    }
    return page;
  }

  decodeInto(page: CodePage, idx: number): Handler {
    const raw = this.bus.fetch32(page.pa + idx * 4);
    const e = this.decoder.find(raw) ?? UNALLOCATED;
    page.ops[idx] = e.extract(raw);
    return (page.fns[idx] = e.exec);
  }

  compileBlockAt(page: CodePage, idx: number): Block | null {
    return compileBlock(
      (raw) => this.decoder.find(raw),
      (i) => this.bus.fetch32(page.pa + i * 4),
      idx,
      PAGE_SIZE / 4,
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
