// GICv3 as QEMU's virt board has it with gic-version=3: the distributor at 0x0800_0000, one
// redistributor frame pair per PE from 0x080A_0000, affinity routing only (ARE=1), a single
// security state (no EL3, so GICD_CTLR.DS=1: Group 0 is signalled as FIQ, Group 1 as IRQ),
// 256 INTIDs, no LPIs and no ITS. The CPU interface's state lives here too (the ICC_* system
// registers in gic-sysregs.ts reach it); the virtual CPU interface is gic-virtual.ts.
import type { Cpu } from '../cpu/cpu.js';
import { LINE } from '../pe/state.js';
import type { MmioDevice } from './bus.js';
import { VirtualCpuInterface } from './gic-virtual.js';
import {
  SPURIOUS,
  PRIO_MASK,
  MIN_BPR0,
  activate,
  canPreempt,
  groupPriorityMask,
  highestActiveGroup,
  runningPriority,
} from './gic-priority.js';

export const GIC = {
  DIST_BASE: 0x0800_0000,
  DIST_SIZE: 0x1_0000,
  REDIST_BASE: 0x080a_0000,
  /** RD_base and SGI_base, 64 KiB each. */
  REDIST_STRIDE: 0x2_0000,
} as const;

/** INTIDs 0..255: GICD_TYPER.ITLinesNumber 7, as QEMU's virt. */
export const NUM_IRQ = 256;
/** The PPIs of virt's devices, and the PL011's SPI. */
export const INTID = {
  MAINTENANCE: 25,
  HYP_TIMER: 26,
  VIRT_TIMER: 27,
  HYP_VIRT_TIMER: 28,
  PHYS_TIMER: 30,
  UART: 33,
} as const;

/** ICC_CTLR_EL1's read-only fields: A3V, IDbits 1 (24 bits), PRIbits 4 (5 bits), as QEMU reports them. */
export const ICC_CTLR_RO = 0x8c00;
const CTLR_CBPR = 1;
const CTLR_EOIMODE = 2;

const GICD_CTLR_ARE = 0x10;
const GICD_CTLR_DS = 0x40;
/** QEMU's GICD_TYPER without LPIS: 256 INTIDs, 16 ID bits, A3V, No1N. */
const GICD_TYPER = 0x0378_0007;
const IIDR = 0x43b;
/** PIDR4..7, PIDR0..3, CIDR0..3 at 0xFFD0..0xFFFC (QEMU's values). */
const DIST_IDS = [0x44, 0, 0, 0, 0x92, 0xb4, 0x3b, 0, 0x0d, 0xf0, 0x05, 0xb1];
const REDIST_IDS = [0x44, 0, 0, 0, 0x93, 0xb4, 0x3b, 0, 0x0d, 0xf0, 0x05, 0xb1];
const WAKER_SLEEP = 2;
const WAKER_CHILDREN_ASLEEP = 4;

/** The state of a range of interrupts: a PE's SGIs and PPIs (INTIDs 0..31) or the SPIs. */
class Bank {
  readonly enabled: Uint8Array;
  /** Pending set by an edge, a write to ISPENDR or an SGI; a level-sensitive input is pending while high too. */
  readonly latch: Uint8Array;
  readonly level: Uint8Array;
  readonly active: Uint8Array;
  readonly priority: Uint8Array;
  readonly group: Uint8Array;
  /** 1: edge-triggered (GICD_ICFGR 0b10). */
  readonly edge: Uint8Array;
  constructor(readonly size: number) {
    this.enabled = new Uint8Array(size);
    this.latch = new Uint8Array(size);
    this.level = new Uint8Array(size);
    this.active = new Uint8Array(size);
    this.priority = new Uint8Array(size);
    this.group = new Uint8Array(size);
    this.edge = new Uint8Array(size);
  }
  reset(): void {
    for (const a of [this.enabled, this.latch, this.active, this.priority, this.group, this.edge]) a.fill(0);
    // The input levels stay: they are the devices' outputs, which a GIC reset does not change.
    this.edge.fill(1, 0, Math.min(16, this.size)); // SGIs are edge-triggered (ICFGR0 reads 0xAAAAAAAA)
  }
  pending(i: number): boolean {
    return this.latch[i] !== 0 || (this.edge[i] === 0 && this.level[i] !== 0);
  }
}

/** The highest-priority pending interrupt a PE may be signalled. */
export interface Pending {
  readonly intid: number;
  readonly priority: number;
  readonly group: number;
}

/** One PE's CPU interface (ICC_*_EL1). */
export class CpuInterface {
  pmr = 0;
  bpr = [MIN_BPR0, MIN_BPR0 + 1];
  /** CBPR and EOImode. */
  ctlr = 0;
  igrpen = [0, 0];
  /** ICC_AP0R0_EL1 and ICC_AP1R0_EL1. */
  apr = [0, 0];

  reset(): void {
    this.pmr = this.ctlr = 0;
    this.bpr = [MIN_BPR0, MIN_BPR0 + 1];
    this.igrpen = [0, 0];
    this.apr = [0, 0];
  }

  get eoiMode(): boolean {
    return (this.ctlr & CTLR_EOIMODE) !== 0;
  }

  mask(group: number): number {
    return groupPriorityMask(group, this.bpr[0]!, this.bpr[1]!, (this.ctlr & CTLR_CBPR) !== 0);
  }

  readBpr(group: number): number {
    if (group === 1 && (this.ctlr & CTLR_CBPR) !== 0) return Math.min(this.bpr[0]! + 1, 7);
    return this.bpr[group]!;
  }

  writeBpr(group: number, v: number): void {
    if (group === 1 && (this.ctlr & CTLR_CBPR) !== 0) return; // reads give BPR0 + 1, writes are ignored
    this.bpr[group] = Math.max(v & 7, MIN_BPR0 + group);
  }

  writeCtlr(v: number): void {
    this.ctlr = v & (CTLR_CBPR | CTLR_EOIMODE);
  }

  /** Whether `p` can be signalled: its group enabled here, above the priority mask, preempting what runs. */
  canSignal(p: Pending): boolean {
    return (
      this.igrpen[p.group] !== 0 && canPreempt(p.priority, this.mask(p.group), this.pmr, runningPriority(this.apr))
    );
  }
}

/**
 * Whether a distributor offset is a word of SGI and PPI state, which with affinity routing
 * lives in the redistributors (RAZ/WI here): bit-per-INTID word 0, IPRIORITYR 0-7, ICFGR 0-1.
 */
function privateWord(o: number): boolean {
  return (o >= 0x80 && o < 0x400 && (o & 0x7f) < 4) || (o >= 0x400 && o < 0x420) || (o >= 0xc00 && o < 0xc08);
}

/** The GIC's view of one PE: its redistributor and its CPU interfaces. */
class PeGic {
  readonly bank = new Bank(32);
  readonly icc = new CpuInterface();
  readonly ich: VirtualCpuInterface;
  waker = WAKER_SLEEP | WAKER_CHILDREN_ASLEEP;
  /** The PE that sent each SGI last (for the world layer's naming of an interrupt). */
  readonly sgiSource = new Int8Array(16);
  hppi: Pending | null = null;
  constructor(
    readonly cpu: Cpu,
    gic: Gic,
  ) {
    this.ich = new VirtualCpuInterface(cpu, {
      deactivate: (intid) => gic.deactivate(cpu.index, intid),
      maintenance: (level) => gic.setPpi(cpu.index, INTID.MAINTENANCE, level),
    });
  }
  /** GICR_TYPER[63:32] and the affinity IROUTER and SGI1R name: Aff3.Aff2.Aff1.Aff0. */
  get affinity(): number {
    const m = this.cpu.mpidr;
    return Number((m & 0xff_ffffn) | (((m >> 32n) & 0xffn) << 24n));
  }
}

export class Gic {
  /** GICD_CTLR.EnableGrp0 (bit 0) and EnableGrp1 (bit 1). */
  private ctlr = 0;
  private readonly spis = new Bank(NUM_IRQ);
  /** GICD_IROUTER<n>: IRM (bit 31) and Aff2.Aff1.Aff0 in the low word, Aff3 in the high one. */
  private readonly routeLo = new Uint32Array(NUM_IRQ);
  private readonly routeHi = new Uint8Array(NUM_IRQ);
  readonly pes: readonly PeGic[];
  /** Names of the devices behind INTIDs (the world layer and `monitor gic` show them). */
  private readonly sources = new Map<number, string>();
  readonly distributor: MmioDevice;
  readonly redistributors: MmioDevice;

  constructor(cpus: readonly Cpu[]) {
    this.pes = cpus.map((c) => new PeGic(c, this));
    this.distributor = {
      name: 'gicv3-dist',
      read: (o, s) => this.access(o, s, (w) => this.distRead(w)),
      write: (o, s, v) => this.distWrite(o, s, v),
    };
    this.redistributors = {
      name: 'gicv3-redist',
      read: (o, s) => this.access(o, s, (w) => this.redistRead(w)),
      write: (o, s, v) => this.redistWrite(o, s, v),
    };
    this.source(INTID.MAINTENANCE, 'GIC maintenance');
    this.reset();
  }

  reset(): void {
    this.ctlr = 0;
    this.spis.reset();
    this.routeLo.fill(0);
    this.routeHi.fill(0);
    for (const p of this.pes) {
      p.bank.reset();
      p.icc.reset();
      p.ich.reset();
      p.ich.update();
      p.waker = WAKER_SLEEP | WAKER_CHILDREN_ASLEEP;
      p.sgiSource.fill(-1);
    }
    this.update();
  }

  /** Names the device whose output drives `intid`. */
  source(intid: number, name: string): void {
    this.sources.set(intid, name);
  }

  /** What drives `intid`, seen from PE `pe` (an SGI names the PE that sent it last). */
  describe(pe: number, intid: number): string {
    if (intid < 16) {
      const from = this.pes[pe]?.sgiSource[intid] ?? -1;
      return from < 0 ? 'SGI' : `SGI from PE${from}`;
    }
    return this.sources.get(intid) ?? (intid < 32 ? 'PPI' : 'SPI');
  }

  // --- inputs --------------------------------------------------------------------

  /** A device drives a PPI of PE `pe` (level-sensitive outputs: timers, the maintenance interrupt). */
  setPpi(pe: number, intid: number, level: boolean): void {
    this.setLevel(this.pes[pe]!.bank, intid, level);
  }

  /** A device drives an SPI. */
  setSpi(intid: number, level: boolean): void {
    this.setLevel(this.spis, intid, level);
  }

  private setLevel(b: Bank, i: number, level: boolean): void {
    const v = level ? 1 : 0;
    if (b.level[i] === v) return;
    b.level[i] = v;
    if (level && b.edge[i] !== 0) b.latch[i] = 1;
    this.update();
  }

  /** ICC_SGI0R/SGI1R_EL1 written by PE `from`: pends SGI INTID on the PEs it names that have it in `group`. */
  sendSgi(from: number, v: bigint, group: number): void {
    const intid = Number((v >> 24n) & 0xfn);
    const targets = Number(v & 0xffffn);
    const aff = Number(((v >> 48n) & 0xffn) << 16n) | Number(((v >> 32n) & 0xffn) << 8n) | Number((v >> 16n) & 0xffn);
    const all = ((v >> 40n) & 1n) === 1n;
    this.pes.forEach((p, i) => {
      if (all) {
        if (i === from) return;
      } else {
        const a = p.affinity;
        const aff0 = a & 0xff;
        if (a >>> 8 !== aff || aff0 > 15 || ((targets >>> aff0) & 1) === 0) return;
      }
      if (p.bank.group[intid] !== group) return;
      p.bank.latch[intid] = 1;
      p.sgiSource[intid] = from;
    });
    this.update();
  }

  // --- signalling ----------------------------------------------------------------

  private bankOf(pe: number, intid: number): Bank {
    return intid < 32 ? this.pes[pe]!.bank : this.spis;
  }

  /** The PE an SPI is routed to (IRM=1, 1-of-N: the lowest-numbered awake PE), -1 for none. */
  private target(intid: number): number {
    const lo = this.routeLo[intid]!;
    if ((lo & 0x8000_0000) !== 0) {
      const i = this.pes.findIndex((p) => (p.waker & WAKER_SLEEP) === 0);
      return i < 0 ? 0 : i;
    }
    const aff = ((this.routeHi[intid]! << 24) | (lo & 0xff_ffff)) >>> 0;
    return this.pes.findIndex((p) => p.affinity === aff);
  }

  /** The highest-priority pending interrupt for PE `pe` that is enabled and not active (lowest INTID on a tie). */
  private highestPending(pe: number): Pending | null {
    let best = -1;
    let bestPrio = 0x100;
    let bestGroup = 0;
    const scan = (b: Bank, from: number, to: number, mine: (i: number) => boolean) => {
      for (let i = from; i < to; i++) {
        if (b.enabled[i] === 0 || b.active[i] !== 0 || !b.pending(i)) continue;
        const g = b.group[i]!;
        if (((this.ctlr >>> g) & 1) === 0 || b.priority[i]! >= bestPrio || !mine(i)) continue;
        best = i;
        bestPrio = b.priority[i]!;
        bestGroup = g;
      }
    };
    scan(this.pes[pe]!.bank, 0, 32, () => true);
    scan(this.spis, 32, NUM_IRQ, (i) => this.target(i) === pe);
    return best < 0 ? null : { intid: best, priority: bestPrio, group: bestGroup };
  }

  /** Recomputes every PE's highest pending interrupt and drives its IRQ and FIQ inputs. */
  update(): void {
    this.pes.forEach((p, i) => {
      p.hppi = this.highestPending(i);
      const signal = p.hppi !== null && p.icc.canSignal(p.hppi);
      p.cpu.setLine(LINE.FIQ, signal && p.hppi!.group === 0);
      p.cpu.setLine(LINE.IRQ, signal && p.hppi!.group === 1);
    });
  }

  /** The interrupt PE `pe` is signalled for now (what an IRQ or FIQ taken now is for), or null. */
  signalled(pe: number): Pending | null {
    const p = this.pes[pe]!;
    return p.hppi !== null && p.icc.canSignal(p.hppi) ? p.hppi : null;
  }

  /** What an IRQ (vector kind 1) or FIQ (2) PE `pe` takes now is for: `INTID 27, EL1 virtual timer`. */
  describeSignalled(pe: number, kind: number): string | undefined {
    const s = this.signalled(pe);
    if (s === null || (s.group === 1) !== (kind === 1)) return undefined;
    return `INTID ${s.intid}, ${this.describe(pe, s.intid)}`;
  }

  // --- the CPU interface's operations --------------------------------------------

  /** The INTID ICC_IAR0/1_EL1 would return now (1023 when none), without acknowledging it. */
  acknowledgeable(pe: number, group: number): number {
    const p = this.pes[pe]!;
    const h = p.hppi;
    return h === null || h.group !== group || !p.icc.canSignal(h) ? SPURIOUS : h.intid;
  }

  /** ICC_IAR0/1_EL1: acknowledges the signalled interrupt of `group`, or returns 1023. */
  acknowledge(pe: number, group: number): number {
    const p = this.pes[pe]!;
    const h = p.hppi;
    if (this.acknowledgeable(pe, group) === SPURIOUS || h === null) return SPURIOUS;
    const b = this.bankOf(pe, h.intid);
    b.active[h.intid] = 1;
    b.latch[h.intid] = 0;
    activate(p.icc.apr, h.group, h.priority, p.icc.mask(h.group));
    this.update();
    return h.intid;
  }

  /** ICC_HPPIR0/1_EL1. */
  highestPendingId(pe: number, group: number): number {
    const p = this.pes[pe]!;
    const h = p.hppi;
    return h === null || h.group !== group || p.icc.igrpen[group] === 0 ? SPURIOUS : h.intid;
  }

  /** ICC_EOIR0/1_EL1: priority drop, and deactivation unless EOImode splits them. */
  endOfInterrupt(pe: number, group: number, intid: number): void {
    if (intid >= NUM_IRQ) return; // the special INTIDs, and ones that do not exist
    const icc = this.pes[pe]!.icc;
    if (highestActiveGroup(icc.apr) !== group) return;
    icc.apr[group] = (icc.apr[group]! & (icc.apr[group]! - 1)) >>> 0;
    if (!icc.eoiMode) this.deactivate(pe, intid);
    else this.update();
  }

  /** ICC_DIR_EL1 (with EOImode set), and a list register's HW bit when the guest deactivates. */
  deactivate(pe: number, intid: number): void {
    if (intid >= NUM_IRQ) return;
    this.bankOf(pe, intid).active[intid] = 0;
    this.update();
  }

  // --- MMIO ----------------------------------------------------------------------

  /** Reads of 1, 2, 4 or 8 bytes from 32-bit registers (`word` reads the aligned word at an offset). */
  private access(offset: number, size: number, word: (o: number) => number): bigint {
    if (size === 8) return BigInt(word(offset) >>> 0) | (BigInt(word(offset + 4) >>> 0) << 32n);
    const w = word(offset & ~3) >>> 0;
    const shift = (offset & 3) * 8;
    return BigInt(size === 4 ? w : (w >>> shift) & ((1 << (size * 8)) - 1));
  }

  private distRead(o: number): number {
    if (o >= 0xffd0) return DIST_IDS[(o - 0xffd0) >> 2] ?? 0;
    if (o >= 0x6100 && o < 0x6000 + 8 * NUM_IRQ) {
      const i = (o - 0x6000) >> 3;
      return (o & 4) === 0 ? this.routeLo[i]! : this.routeHi[i]!;
    }
    switch (o) {
      case 0x0:
        return this.ctlr | GICD_CTLR_ARE | GICD_CTLR_DS;
      case 0x4:
        return GICD_TYPER;
      case 0x8:
        return IIDR;
    }
    return privateWord(o) ? 0 : this.bankRead(this.spis, o, NUM_IRQ);
  }

  private distWrite(o: number, size: number, value: bigint): void {
    if (o >= 0x6100 && o < 0x6000 + 8 * NUM_IRQ) {
      const i = (o - 0x6000) >> 3;
      if ((o & 4) === 0) this.routeLo[i] = Number(value & 0x80ff_ffffn);
      if ((o & 4) !== 0 || size === 8) this.routeHi[i] = Number((value >> ((o & 4) === 0 ? 32n : 0n)) & 0xffn);
      this.update();
      return;
    }
    if (o === 0) {
      this.ctlr = Number(value & 3n);
      this.update();
      return;
    }
    if (privateWord(o)) return;
    this.bankWrite(this.spis, o, size, value, NUM_IRQ);
  }

  private redistRead(o: number): number {
    const pe = Math.floor(o / GIC.REDIST_STRIDE);
    const p = this.pes[pe]!;
    const off = o % GIC.REDIST_STRIDE;
    if (off >= 0x1_0000) {
      const s = off - 0x1_0000;
      if (s === 0xc00) return 0xaaaa_aaaa | 0;
      return this.bankRead(p.bank, s, 32);
    }
    if (off >= 0xffd0) return REDIST_IDS[(off - 0xffd0) >> 2] ?? 0;
    switch (off) {
      case 0x4:
        return IIDR;
      case 0x8: // GICR_TYPER: Processor_Number, Last
        return (pe << 8) | (pe === this.pes.length - 1 ? 0x10 : 0);
      case 0xc:
        return p.affinity;
      case 0x14:
        return p.waker;
      default:
        return 0; // GICR_CTLR (no LPIs), STATUSR, PROPBASER, PENDBASER…
    }
  }

  private redistWrite(o: number, size: number, value: bigint): void {
    const pe = Math.floor(o / GIC.REDIST_STRIDE);
    const p = this.pes[pe]!;
    const off = o % GIC.REDIST_STRIDE;
    if (off >= 0x1_0000) {
      const s = off - 0x1_0000;
      if (s === 0xc00) return; // SGIs are edge-triggered, read-only
      this.bankWrite(p.bank, s, size, value, 32);
      return;
    }
    if (off === 0x14) {
      // ProcessorSleep; ChildrenAsleep follows it at once.
      p.waker = (Number(value) & WAKER_SLEEP) !== 0 ? WAKER_SLEEP | WAKER_CHILDREN_ASLEEP : 0;
      this.update();
    }
  }

  /**
   * The registers a bank has at the same offsets in GICD and GICR's SGI_base: IGROUPR,
   * I[SC]ENABLER, I[SC]PENDR, I[SC]ACTIVER, IPRIORITYR, ICFGR (IGRPMODR and NSACR: RAZ/WI
   * with one security state). `o` is the offset, `n` the INTIDs the bank covers.
   */
  private bankRead(b: Bank, o: number, n: number): number {
    const bits = (a: Uint8Array, base: number) => {
      const first = (o - base) * 8;
      let v = 0;
      for (let i = 0; i < 32 && first + i < n; i++) if (a[first + i] !== 0) v |= 1 << i;
      return v >>> 0;
    };
    if (o >= 0x80 && o < 0x100) return bits(b.group, 0x80);
    if (o >= 0x100 && o < 0x200) return bits(b.enabled, o < 0x180 ? 0x100 : 0x180);
    if (o >= 0x200 && o < 0x300) {
      const first = (o - (o < 0x280 ? 0x200 : 0x280)) * 8;
      let v = 0;
      for (let i = 0; i < 32 && first + i < n; i++) if (b.pending(first + i)) v |= 1 << i;
      return v >>> 0;
    }
    if (o >= 0x300 && o < 0x400) return bits(b.active, o < 0x380 ? 0x300 : 0x380);
    if (o >= 0x400 && o < 0x400 + n) {
      let v = 0;
      for (let i = 0; i < 4; i++) v |= (b.priority[o - 0x400 + i] ?? 0) << (8 * i);
      return v >>> 0;
    }
    if (o >= 0xc00 && o < 0xc00 + n / 4) {
      const first = (o - 0xc00) * 4;
      let v = 0;
      for (let i = 0; i < 16; i++) if (b.edge[first + i] !== 0) v |= 2 << (2 * i);
      return v >>> 0;
    }
    return 0;
  }

  private bankWrite(b: Bank, o: number, size: number, value: bigint, n: number): void {
    if (o >= 0x400 && o < 0x400 + n) {
      // IPRIORITYR is byte-accessible; unimplemented low priority bits read as zero.
      for (let i = 0; i < Math.min(size, 4); i++) {
        const at = o - 0x400 + i;
        if (at < n) b.priority[at] = Number((value >> BigInt(8 * i)) & 0xffn) & PRIO_MASK;
      }
      this.update();
      return;
    }
    if (size === 8) {
      this.bankWrite(b, o, 4, value & 0xffff_ffffn, n);
      this.bankWrite(b, o + 4, 4, value >> 32n, n);
      return;
    }
    if (size !== 4) return; // only IPRIORITYR takes byte and halfword writes
    const v = Number(value & 0xffff_ffffn);
    const each = (base: number, fn: (i: number) => void) => {
      const first = (o - base) * 8;
      for (let i = 0; i < 32 && first + i < n; i++) if (((v >>> i) & 1) !== 0) fn(first + i);
    };
    if (o >= 0x80 && o < 0x100) {
      const first = (o - 0x80) * 8;
      for (let i = 0; i < 32 && first + i < n; i++) b.group[first + i] = (v >>> i) & 1;
    } else if (o >= 0x100 && o < 0x180) each(0x100, (i) => (b.enabled[i] = 1));
    else if (o >= 0x180 && o < 0x200) each(0x180, (i) => (b.enabled[i] = 0));
    else if (o >= 0x200 && o < 0x280) each(0x200, (i) => (b.latch[i] = 1));
    else if (o >= 0x280 && o < 0x300) each(0x280, (i) => (b.latch[i] = 0));
    else if (o >= 0x300 && o < 0x380) each(0x300, (i) => (b.active[i] = 1));
    else if (o >= 0x380 && o < 0x400) each(0x380, (i) => (b.active[i] = 0));
    else if (o >= 0xc00 && o < 0xc00 + n / 4) {
      const first = (o - 0xc00) * 4;
      for (let i = 0; i < 16; i++) if (first + i >= 16) b.edge[first + i] = (v >>> (2 * i + 1)) & 1;
    } else return;
    this.update();
  }

  // --- views (monitor gic, the world layer) ---------------------------------------

  /** Every interrupt of PE `pe`'s view that is enabled, pending or active, in INTID order. */
  interrupts(pe: number): {
    intid: number;
    enabled: boolean;
    pending: boolean;
    active: boolean;
    priority: number;
    group: number;
    edge: boolean;
    source: string;
  }[] {
    const out = [];
    for (let i = 0; i < NUM_IRQ; i++) {
      if (i >= 32 && this.target(i) !== pe && !this.spis.active[i]) continue;
      const b = this.bankOf(pe, i);
      const pending = b.pending(i);
      if (b.enabled[i] === 0 && !pending && b.active[i] === 0) continue;
      out.push({
        intid: i,
        enabled: b.enabled[i] !== 0,
        pending,
        active: b.active[i] !== 0,
        priority: b.priority[i]!,
        group: b.group[i]!,
        edge: b.edge[i] !== 0,
        source: this.describe(pe, i),
      });
    }
    return out;
  }

  /** GICD_CTLR's group enables. */
  get groupsEnabled(): number {
    return this.ctlr;
  }
}
