// The processing element: register file, PSTATE, system-register storage and the run loop
// (fetch through the MMU → decoded-instruction cache → execute).
import { PState } from './pstate.js';
import { Decoder, type AnyEncoding } from './decode.js';
import { ArchException, MachineStop, EC, takeSync, defaultTargetEL } from './exceptions.js';
import type { CpuObserver } from './events.js';
import { SYSREGS, SYSREG_SLOTS, SR, HCR } from '../sysregs/registry.js';
import { resetValue } from '../sysregs/special.js';
import { PhysBus, BusError, PAGE_SHIFT, PAGE_SIZE } from '../board/bus.js';
import { Mmu, AccessType, FSC } from '../mmu/mmu.js';
import { A64 } from './a64.js';
import { compileBlock, FLAG_SCRATCH, FLAG_SCRATCH32, type Block } from './jit.js';

type Handler = (cpu: Cpu, d: never) => void;

/** Decoded instructions of one physical page, filled lazily. */
class CodePage {
  constructor(readonly pa: number) {}
  readonly fns: (Handler | undefined)[] = new Array<Handler | undefined>(PAGE_SIZE / 4).fill(undefined);
  readonly ops: object[] = new Array<object>(PAGE_SIZE / 4);
  /** Compiled blocks by first instruction: undefined until hot, null where none can start. */
  readonly blocks: (Block | null | undefined)[] = new Array<Block | null | undefined>(PAGE_SIZE / 4).fill(undefined);
  /** Executions of each instruction while its block is undefined, up to BLOCK_HOT. */
  readonly heat = new Uint8Array(PAGE_SIZE / 4);
}

/** Executions of an instruction after which a block starting there is compiled. */
const BLOCK_HOT = 16;

export type StopReason =
  | { kind: 'budget' }
  | { kind: 'breakpoint'; pc: bigint }
  | { kind: 'requested'; why: string }
  | { kind: 'exit'; code: number; why: string }
  | { kind: 'unimplemented'; message: string };

/**
 * Access syndrome bits for loads/stores: the ISS[24:14] a stage-2 data abort reports, plus flags:
 * ACC_UNPRIV for LDTR/STTR (whether that means EL0 permissions is the MMU's rule), ACC_ALIGNED.
 */
export const ACC_UNPRIV = 1 << 30;
export const ACC_ALIGNED = 1 << 29;

const decoder = new Decoder(A64);

export class Cpu {
  /** X0–X30; index 31 reads as zero (XZR) and is never written. */
  readonly x = new BigUint64Array(32);
  /** SP_EL0, SP_EL1, SP_EL2: the banked stack pointers. `x`-style access to SP goes through getSp/setSp. */
  readonly spEl = new BigUint64Array(3);
  /** [0] the PC of the next instruction, [1] the address of the instruction executing now. */
  readonly pcs = new BigUint64Array(2);
  /**
   * The same two PCs as int32 halves ([0] = pcs[0] bits 31:0, [1] its bits 63:32, [2], [3] pcs[1]):
   * the run loop's view.
   */
  private readonly pcs32 = new Int32Array(this.pcs.buffer);
  readonly ps = new PState();
  /** System-register storage, indexed by SR.<name>. */
  readonly sr = new BigUint64Array(SYSREG_SLOTS);
  /** Cached from HCR_EL2 on every write: its low 32 bits, E2H and TGE. */
  hcr = 0;
  e2h = false;
  tge = false;

  readonly mmu: Mmu;
  observer: CpuObserver | null = null;
  /** The board's semihosting service (HLT #0xF000), and the emulator-resident firmware (PSCI over SMC). */
  semihost: ((cpu: Cpu) => void) | null = null;
  firmwareCall: ((cpu: Cpu) => boolean) | null = null;
  /** Instructions retired since reset: the deterministic clock. */
  icount = 0;
  /** The Event Register (WFE/SEV/SEVL, set by exception return). */
  eventRegister = false;

  /** Local exclusive monitor: physical address and size of the open reservation, or -1. */
  private exclAddr = -1;
  private exclSize = 0;

  readonly breakpoints = new Set<bigint>();
  /**
   * Debugger watchpoints: `watcher` sees data accesses (and may throw to stop before one) only while
   * `watchCount` ≠ 0.
   */
  watchCount = 0;
  watcher: ((va: bigint, size: number, write: boolean) => void) | null = null;
  /**
   * Physical RAM ranges whose accesses raise `memoryAccessed` (after the access, with the values).
   * `physWatchPages` counts ranges per RAM page and `physWatchGranules` per 8-byte granule of
   * those pages, so a check is two array reads; nothing is tested while `physWatchCount` is 0.
   */
  private physWatchCount = 0;
  private physWatchPages: Uint16Array;
  private readonly physWatchGranules = new Map<number, Uint16Array>();
  private physWatches: { pa: number; size: number }[] = [];
  private stopRequest: StopReason | null = null;
  /** Scratch for reading a VA's low bits without BigInt arithmetic. */
  private readonly vaSplit64 = new BigUint64Array(1);
  private readonly vaSplit32 = new Int32Array(this.vaSplit64.buffer);
  private readonly code = new Map<number, CodePage>();
  private lastPage: CodePage | null = null;
  private lastPageNum = -1;

  constructor(readonly bus: PhysBus) {
    this.physWatchPages = new Uint16Array(bus.codePages.length);
    this.mmu = new Mmu(this);
    bus.onCodeWrite = (page) => this.invalidateCode(page);
    this.reset(0n);
  }

  reset(entry: bigint): void {
    this.x.fill(0n);
    this.spEl.fill(0n);
    for (const s of SYSREGS) if (s.slot >= 0) this.sr[s.slot] = resetValue(s);
    Object.assign(this.ps, new PState());
    this.hcrChanged();
    this.pcs[0] = entry;
    this.icount = 0;
    this.exclAddr = -1;
    this.code.clear();
    this.bus.codePages.fill(0);
    this.lastPage = null;
    this.lastPageNum = -1;
    this.mmu.flushAll();
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

  /** Called after HCR_EL2 changes. */
  hcrChanged(): void {
    const v = this.sr[SR.HCR_EL2!]!;
    this.hcr = Number(v & 0xffff_ffffn) >>> 0;
    this.e2h = ((v >> BigInt(HCR.E2H)) & 1n) === 1n;
    this.tge = ((this.hcr >>> HCR.TGE) & 1) === 1;
    this.contextChanged();
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

  private checkAlignment(va: bigint, size: number, flags: number, type: AccessType): void {
    if (!this.misaligned(va, size)) return;
    if ((flags & ACC_ALIGNED) !== 0 || this.alignmentChecked()) {
      throw this.mmu.abort(va, type, FSC.ALIGNMENT);
    }
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
    const off = pa - this.bus.ramBase;
    if (size === 8 && off >= 0 && off + 8 <= this.bus.ramSize) {
      // Two 32-bit reads: DataView.getBigUint64 is several times slower and allocates.
      const dv = this.bus.ramView;
      return BigInt.asUintN(64, BigInt(dv.getUint32(off, true)) | (BigInt(dv.getUint32(off + 4, true)) << 32n));
    }
    try {
      return this.bus.read(pa, size);
    } catch (e) {
      if (e instanceof BusError) throw this.mmu.abort(va, type, FSC.SYNC_EXTERNAL);
      throw e;
    }
  }

  /** A data read of 1, 2, 4 or 8 bytes at `va`. */
  read(va: bigint, size: number, flags: number): bigint {
    if (this.watchCount !== 0) this.watcher!(va, size, false);
    this.checkAlignment(va, size, flags, AccessType.Read);
    const pa = this.mmu.translate(va, AccessType.Read, flags, (flags & ACC_UNPRIV) !== 0);
    if ((pa & (PAGE_SIZE - 1)) + size <= PAGE_SIZE) {
      const v = this.physRead(va, pa, size, AccessType.Read);
      if (this.physWatchCount !== 0 && this.physWatched(pa, size)) this.physAccessed(va, pa, size, false, v, v);
      return v;
    }
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | this.read(BigInt.asUintN(64, va + BigInt(i)), 1, flags);
    return v;
  }

  write(va: bigint, size: number, value: bigint, flags: number): void {
    if (this.watchCount !== 0) this.watcher!(va, size, true);
    this.checkAlignment(va, size, flags, AccessType.Write);
    const pa = this.mmu.translate(va, AccessType.Write, flags, (flags & ACC_UNPRIV) !== 0);
    if ((pa & (PAGE_SIZE - 1)) + size <= PAGE_SIZE) {
      if (this.exclAddr >= 0 && pa < this.exclAddr + this.exclSize && pa + size > this.exclAddr) this.exclAddr = -1;
      // Watched ranges are RAM only, so reading the old value has no side effect.
      const watched = this.physWatchCount !== 0 && this.physWatched(pa, size);
      const before = watched ? this.bus.read(pa, size) : 0n;
      try {
        this.bus.write(pa, size, value);
      } catch (e) {
        if (e instanceof BusError) throw this.mmu.abort(va, AccessType.Write, FSC.SYNC_EXTERNAL);
        throw e;
      }
      if (watched) this.physAccessed(va, pa, size, true, BigInt.asUintN(size * 8, value), before);
      return;
    }
    // Crossing a page: translate both pages before writing anything.
    const last = BigInt.asUintN(64, va + BigInt(size - 1));
    this.mmu.translate(last, AccessType.Write, flags, (flags & ACC_UNPRIV) !== 0);
    for (let i = 0; i < size; i++) {
      this.write(BigInt.asUintN(64, va + BigInt(i)), 1, (value >> BigInt(8 * i)) & 0xffn, flags);
    }
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
    for (let p = off >>> PAGE_SHIFT; p <= (off + size - 1) >>> PAGE_SHIFT; p++) this.physWatchPages[p]! += delta;
    for (let g = off >>> 3; g <= (off + size - 1) >>> 3; g++) {
      const page = g >>> (PAGE_SHIFT - 3);
      let gr = this.physWatchGranules.get(page);
      if (gr === undefined) this.physWatchGranules.set(page, (gr = new Uint16Array(PAGE_SIZE >>> 3)));
      gr[g & ((PAGE_SIZE >>> 3) - 1)]! += delta;
    }
  }

  private physWatched(pa: number, size: number): boolean {
    const off = pa - this.bus.ramBase;
    if (off < 0 || off >= this.bus.ramSize || this.physWatchPages[off >>> PAGE_SHIFT] === 0) return false;
    // Accesses reaching here stay within one page (page-crossing ones are split into bytes).
    const gr = this.physWatchGranules.get(off >>> PAGE_SHIFT)!;
    const mask = (PAGE_SIZE >>> 3) - 1;
    for (let g = off >>> 3; g <= (off + size - 1) >>> 3; g++) {
      // A granule may be shared with an unwatched neighbour: then compare the ranges exactly.
      if (gr[g & mask] !== 0) return this.physWatches.some((w) => pa < w.pa + w.size && pa + size > w.pa);
    }
    return false;
  }

  private physAccessed(va: bigint, pa: number, size: number, write: boolean, value: bigint, before: bigint): void {
    this.observer?.memoryAccessed?.({ pa, va, size, write, value, before, pc: this.pcs[1]! });
  }

  // --- exclusive monitor (local) -----------------------------------------------

  /** Marks [pa, pa+size) exclusive for the load-exclusive at `va`. */
  exclusiveMark(va: bigint, size: number): void {
    this.exclAddr = this.mmu.translate(va, AccessType.Read, 0, false);
    this.exclSize = size;
  }

  /** The store-exclusive check: true when the reservation still covers [va, va+size). */
  exclusivePass(va: bigint, size: number, flags: number): boolean {
    const pa = this.mmu.translate(va, AccessType.Write, flags, false);
    const ok = this.exclAddr === pa && this.exclSize === size;
    this.exclAddr = -1;
    return ok;
  }

  exclusiveClear(): void {
    this.exclAddr = -1;
  }

  // --- decoded-instruction cache ----------------------------------------------

  private invalidateCode(page: number): void {
    this.mmu.generation++;
    this.code.delete(page);
    this.bus.codePages[page] = 0;
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
    if (off < 0 || off >= this.bus.ramSize) throw new BusError(pa);
    let page = this.code.get(pageNum);
    if (page === undefined) {
      page = new CodePage(pa - (pa & (PAGE_SIZE - 1)));
      this.code.set(pageNum, page);
      this.bus.codePages[pageNum] = 1;
    }
    this.lastPage = page;
    this.lastPageNum = pageNum;
    return page;
  }

  private decodeInto(page: CodePage, idx: number): Handler {
    const raw = this.bus.fetch32(page.pa + idx * 4);
    const e = decoder.find(raw) ?? UNALLOCATED;
    page.ops[idx] = e.extract(raw);
    return (page.fns[idx] = e.exec);
  }

  private compileBlockAt(page: CodePage, idx: number): Block | null {
    return compileBlock(
      (raw) => decoder.find(raw),
      (i) => this.bus.fetch32(page.pa + i * 4),
      idx,
      PAGE_SIZE / 4,
    );
  }

  /** The encoding of a raw instruction word (for the disassembler and tests). */
  static decode(raw: number): AnyEncoding | undefined {
    return decoder.find(raw);
  }

  // --- run loop -------------------------------------------------------------------

  /** Asks the run loop to stop after the current instruction. */
  requestStop(reason: StopReason): void {
    if (this.stopRequest === null) this.stopRequest = reason;
  }

  /** Executes one instruction (taking any exception it raises). */
  step(): StopReason | null {
    const r = this.run(1, true);
    return r.kind === 'budget' ? null : r;
  }

  /**
   * Runs up to `budget` instructions. Stops early at a breakpoint (before executing it,
   * unless it is the first instruction and `skipBreakAtStart`), on a stop request, or
   * when the machine cannot continue.
   */
  run(budget: number, skipBreakAtStart = false): StopReason {
    const end = this.icount + budget;
    let first = skipBreakAtStart;
    this.stopRequest = null;
    const pcs = this.pcs;
    const p32 = this.pcs32;
    const mmu = this.mmu;
    const bps = this.breakpoints;
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
            if ((p32[0]! & 3) !== 0) {
              throw new ArchException(defaultTargetEL(this), EC.PC_ALIGN, 0, pc);
            }
            const pa = mmu.translate(pc, AccessType.Fetch, 0, false);
            // After PC alignment and instruction aborts in priority; entry clears PSTATE.IL (SPSR keeps it).
            if (this.ps.il !== 0) throw new ArchException(defaultTargetEL(this), EC.ILLEGAL_STATE, 0);
            gen = mmu.generation;
            page = this.decodeAt(pa);
            idx = (pa & (PAGE_SIZE - 1)) >>> 2;
            pageLo = p32[0]! & ~(PAGE_SIZE - 1);
            pageHi = p32[1]!;
          }
          const blk = page.blocks[idx];
          if (blk === undefined) {
            if (++page.heat[idx]! >= BLOCK_HOT) page.blocks[idx] = this.compileBlockAt(page, idx);
          } else if (blk !== null && bps.size === 0 && this.icount + blk.len <= end) {
            // A compiled block: blk.len instructions that cannot fault, stop or branch.
            blk.fn(this, this.x, this.ps, FLAG_SCRATCH, FLAG_SCRATCH32);
            this.icount += blk.len;
            idx += blk.len;
            p32[2] = pageLo | ((idx - 1) << 2);
            p32[3] = pageHi;
            if (idx === PAGE_SIZE / 4) {
              pcs[0] = BigInt.asUintN(64, pcs[1]! + 4n);
              page = null;
            } else {
              p32[0] = pageLo | (idx << 2);
              p32[1] = pageHi;
            }
            continue;
          }
          let fn = page.fns[idx];
          if (fn === undefined) fn = this.decodeInto(page, idx);
          // pcs[1] = this instruction's address, pcs[0] = the next one.
          p32[2] = pageLo | (idx << 2);
          p32[3] = pageHi;
          const nextLo = pageLo | ((idx + 1) << 2);
          if (idx !== PAGE_SIZE / 4 - 1) {
            p32[0] = nextLo;
            p32[1] = pageHi;
          } else {
            pcs[0] = BigInt.asUintN(64, pcs[1]! + 4n);
          }
          fn(this, page.ops[idx] as never);
          this.icount++;
          if (this.stopRequest !== null) return this.stopRequest;
          if (p32[0] !== nextLo || p32[1] !== pageHi || gen !== mmu.generation || idx === PAGE_SIZE / 4 - 1)
            page = null;
          else idx++;
        }
        return { kind: 'budget' };
      } catch (e) {
        page = null;
        // A fetch from outside RAM is a synchronous external abort on fetch, taken like any other.
        const x = e instanceof BusError ? this.mmu.abort(pcs[1]!, AccessType.Fetch, FSC.SYNC_EXTERNAL) : e;
        if (x instanceof ArchException) {
          takeSync(this, x, pcs[1]!);
          this.icount++;
          if (this.stopRequest !== null) return this.stopRequest;
          first = false;
          continue;
        }
        if (e instanceof MachineStop) {
          pcs[0] = pcs[1]!;
          return { kind: 'unimplemented', message: e.message };
        }
        throw e;
      }
    }
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
