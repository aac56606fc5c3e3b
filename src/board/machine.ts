// The virt-compatible board: N PEs around one bus with RAM, PL011, semihosting and PSCI,
// the machine services they share (decoded code, the global exclusive monitor), the clock,
// the round-robin scheduler, and the image loader.
import { Cpu, Wait, type PeStop, type StopReason } from '../cpu/cpu.js';
import { CodeCache } from '../cpu/code.js';
import { ExclusiveMonitor } from '../cpu/monitor.js';
import { MachineSysregs } from '../sysregs/machine.js';
import { PhysBus } from './bus.js';
import { Pl011 } from './pl011.js';
import { Clock } from './clock.js';
import { semihostingCall } from './semihosting.js';
import { psciCall } from './psci.js';
import { mapAbsentDevices } from './absent.js';
import { Gic, GIC, INTID } from './gic.js';
import { registerGicSysregs } from './gic-sysregs.js';
import { GenericTimers } from './timer.js';
import { ID_VALUES } from '../sysregs/special.js';
import { LoadError, type Image } from '../loader/elf.js';
import createDebug from 'debug';

const log = createDebug('hypstep:board');

/** QEMU virt's memory map. */
export const VIRT = { RAM_BASE: 0x4000_0000, UART_BASE: 0x0900_0000, UART_SIZE: 0x1000 } as const;
export const DEFAULT_RAM = 512 * 1024 * 1024;
/** PEs a machine may have (QEMU's virt takes up to 8 with a GICv2, more with a GICv3; 8 here). */
export const MAX_PES = 8;
/** Instructions a PE runs before the next one's turn, unless it sleeps, yields or meets a barrier first. */
export const DEFAULT_QUANTUM = 1000;

/**
 * MPIDR_EL1 of PE `i` as QEMU's virt numbers them (virt_cpu_mp_affinity with the GICv2
 * cluster size of 8): Aff0 = i % 8, Aff1 = i / 8, bit 31 RES1, U = 0 (a multiprocessor).
 */
export function virtMpidr(i: number): bigint {
  return 0x8000_0000n | (BigInt(i >>> 3) << 8n) | BigInt(i & 7);
}

export interface MachineOptions {
  /** RAM size in bytes. */
  memory?: number;
  /** Number of PEs (QEMU's -smp), 1 to MAX_PES; PE 0 starts at the image's entry, the others powered off. */
  smp?: number;
  /** Round-robin quantum in instructions. */
  quantum?: number;
  /** UART transmit bytes (the CLI writes them to stdout). */
  uartOut?: (bytes: Uint8Array) => void;
  /** QEMU's -no-reboot: PSCI SYSTEM_RESET ends the run (status 0) instead of resetting the board. */
  noReboot?: boolean;
  /** Semihosting console bytes (stderr, as QEMU does). */
  consoleOut?: (bytes: Uint8Array) => void;
}

const BUDGET: StopReason = { kind: 'budget' };
/** Ends a PE's slice early, as its budget would: a deadline it set comes before the slice's end. */
const RESLICE: StopReason = { kind: 'budget' };

/** How a debugger runs the machine: some PEs held still (gdb's scheduler-locking), one stepped without interrupts. */
export interface RunOptions {
  /** PEs that do not run (as if asleep); the others take their turns as usual. */
  frozen?: ReadonlySet<Cpu>;
  /** A PE that takes no interrupt in this run (a single step with `monitor step-irq off`). */
  masked?: Cpu;
}

export class Machine {
  readonly bus: PhysBus;
  readonly pes: readonly Cpu[];
  /** PE 0, the boot PE (what single-PE views such as the world layer look at). */
  readonly cpu: Cpu;
  readonly uart: Pl011;
  readonly clock = new Clock();
  /** The GICv3 (always present, as on QEMU's virt with gic-version=3) and each PE's generic timers. */
  readonly gic: Gic;
  readonly timers: GenericTimers;
  readonly code: CodeCache;
  readonly monitor: ExclusiveMonitor;
  /** The system registers every PE has: the architectural table and the rows devices register. */
  readonly sysregs = new MachineSysregs();
  readonly quantum: number;
  image: Image | null = null;
  /** Set when the guest has asked to stop: semihosting exit code, 0 for PSCI SYSTEM_OFF. */
  exitCode: number | null = null;
  private uartBuf: number[] = [];
  private pendingReset = false;
  private dirty = false;

  // The scheduler's state, kept across run() calls so that how a run is sliced (the CLI's
  // slices, a debugger's) never changes the interleaving.
  /** The PE whose turn it is, and the instructions it has retired in this turn. */
  private turn = 0;
  private used = 0;
  /** Time at the start of the current round, and the longest turn in it so far. */
  private roundStart = 0;
  private roundLength = 0;
  /** Whether any PE has run in the current round (a round where none could is idle). */
  private roundRan = false;
  /** Instructions retired by all PEs before the current turn. */
  private retiredBefore = 0;
  private turnStartIcount = 0;
  /** Whether a PE is inside its slice (a deadline it arms then ends the slice). */
  private inSlice = false;

  constructor(private readonly opts: MachineOptions = {}) {
    const n = opts.smp ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > MAX_PES) throw new RangeError(`smp: ${n} PEs (1 to ${MAX_PES})`);
    this.quantum = opts.quantum ?? DEFAULT_QUANTUM;
    this.bus = new PhysBus(VIRT.RAM_BASE, opts.memory ?? DEFAULT_RAM);
    this.code = new CodeCache(this.bus);
    this.monitor = new ExclusiveMonitor(n, (pe) => {
      // Losing a reservation to another PE's store is an event for the PE that held it.
      this.pes[pe]!.eventRegister = true;
    });
    const pes: Cpu[] = [];
    for (let i = 0; i < n; i++) {
      pes.push(
        new Cpu(this.bus, {
          code: this.code,
          monitor: this.monitor,
          sysregs: this.sysregs,
          index: i,
          mpidr: virtMpidr(i),
          peers: pes,
        }),
      );
    }
    this.pes = pes;
    this.cpu = pes[0]!;
    this.uart = new Pl011((b) => {
      this.uartBuf.push(b);
      if (this.uartBuf.length >= 4096) this.flush();
    });
    this.bus.map(VIRT.UART_BASE, VIRT.UART_SIZE, this.uart);
    this.gic = new Gic(pes);
    this.bus.map(GIC.DIST_BASE, GIC.DIST_SIZE, this.gic.distributor);
    this.bus.map(GIC.REDIST_BASE, GIC.REDIST_STRIDE * n, this.gic.redistributors);
    registerGicSysregs(this.sysregs, this.gic);
    // ID_AA64PFR0_EL1.GIC: the system-register interface of a GICv3 CPU interface is there.
    const pfr0 = ID_VALUES.ID_AA64PFR0_EL1! | (1n << 24n);
    this.sysregs.override('ID_AA64PFR0_EL1', { read: () => pfr0 });
    this.timers = new GenericTimers(pes, this.clock, this.gic, this.sysregs);
    this.clock.onSooner = () => {
      if (this.inSlice) this.current.requestStop(RESLICE);
    };
    this.uart.irq = (level) => this.gic.setSpi(INTID.UART, level);
    this.gic.source(INTID.UART, 'PL011 UART');
    mapAbsentDevices(this.bus); // virt's devices that hypstep leaves out answer probes (src/board/absent.ts)
    const exit = (code: number, why: string) => {
      this.exitCode = code;
      this.current.requestStop({ kind: 'exit', code, why });
    };
    const semihost = semihostingCall({
      console: (bytes) => (opts.consoleOut ?? ((b) => process.stderr.write(b)))(bytes),
      exit,
      refused: (op) => log(`semihosting operation 0x${op.toString(16)} refused (console and exit only)`),
    });
    const firmware = psciCall({
      pes,
      systemOff: () => exit(0, 'PSCI SYSTEM_OFF'),
      systemReset: () => {
        if (opts.noReboot) return exit(0, 'PSCI SYSTEM_RESET with -no-reboot');
        this.pendingReset = true;
        this.current.requestStop({ kind: 'requested', why: 'PSCI SYSTEM_RESET' });
      },
      cpuOn: (target, entry, context) => {
        target.reset(entry);
        target.x[0] = context;
        target.on = true;
      },
      cpuOff: (caller) => {
        caller.on = false;
        caller.requestStop({ kind: 'switch' });
      },
    });
    for (const pe of pes) {
      pe.semihost = semihost;
      pe.firmwareCall = firmware;
    }
  }

  /** Copies an image into RAM and resets the CPU to its entry at EL2h with DAIF masked. */
  load(image: Image): void {
    for (const s of [...image.segments, ...(image.writes ?? [])]) {
      if (!this.bus.isRam(s.paddr, s.memsz)) {
        const end = s.paddr + s.memsz;
        throw new LoadError(
          `segment at 0x${s.paddr.toString(16)}..0x${end.toString(16)} is outside RAM ` +
            `(0x${this.bus.ramBase.toString(16)}..0x${(this.bus.ramBase + this.bus.ramSize).toString(16)})`,
        );
      }
    }
    this.image = image;
    this.reset();
  }

  /** Reloads the image and resets the machine, as a board reset does: PE 0 at the entry, the others off. */
  reset(): void {
    const image = this.image;
    // New RAM is already zero (and lazily mapped by the OS): touch it only after a run dirtied it.
    if (this.dirty) this.bus.ram.fill(0);
    this.dirty = true;
    this.code.clear();
    if (image) {
      for (const s of [...image.segments, ...(image.writes ?? [])]) {
        this.bus.poke(s.paddr, s.data);
      }
    }
    const entry = image?.entry ?? BigInt(VIRT.RAM_BASE);
    this.pes.forEach((pe, i) => {
      pe.reset(entry);
      pe.on = i === 0;
    });
    this.cpu.x[0] = image?.x0 ?? 0n; // the Linux boot protocol's DTB address
    this.clock.clear();
    this.timers.reset();
    this.gic.reset();
    this.uart.reset();
    this.turn = this.used = this.roundStart = this.roundLength = this.retiredBefore = this.turnStartIcount = 0;
    this.roundRan = false;
    this.exitCode = null;
  }

  /** Instructions retired by all PEs since reset (live, also from inside an event). */
  get icount(): number {
    return this.retiredBefore + (this.pes[this.turn]!.icount - this.turnStartIcount);
  }

  /** The PE running now (or whose turn it is). */
  get current(): Cpu {
    return this.pes[this.turn]!;
  }

  /** Time now, in counter ticks, as the current PE sees it. */
  get now(): number {
    return this.roundStart + this.used;
  }

  /**
   * Runs up to `budget` instructions (over all PEs) in round-robin turns of `quantum`
   * instructions; handles board-level stops (reset) itself. A stop other than the budget
   * leaves the turn with the PE that stopped, so a resumed run carries on as if unbroken.
   */
  run(budget: number, o: RunOptions = {}): StopReason {
    let left = budget;
    const single = this.pes.length === 1;
    for (;;) {
      if (left <= 0) return this.finish(BUDGET);
      const pe = this.pes[this.turn]!;
      if ((this.used === 0 || o.frozen?.has(pe)) && !this.ready(pe, o.frozen)) {
        const idle = this.nextTurn(o.frozen);
        if (idle !== null) return this.finish(idle);
        continue;
      }
      const now = this.roundStart + this.used;
      const room = single ? Infinity : this.quantum - this.used;
      const n = Math.min(room, left, Math.max(1, this.clock.next() - now));
      pe.clockOffset = now - pe.icount;
      const start = (this.turnStartIcount = pe.icount);
      this.inSlice = true;
      const r: PeStop = pe.run(n, false, pe !== o.masked);
      this.inSlice = false;
      const ran = pe.icount - start;
      this.retiredBefore += ran;
      this.turnStartIcount = pe.icount;
      this.used += ran;
      left -= ran;
      if (ran > 0) this.roundRan = true;
      if (this.used > this.roundLength) this.roundLength = this.used;
      this.clock.fireDue(this.roundStart + this.used);
      if (this.pendingReset) {
        this.pendingReset = false;
        this.flush();
        this.reset();
        continue;
      }
      // The turn ends when the PE gives it up or has used its quantum, whatever else stopped it.
      const idle = r.kind === 'switch' || (!single && this.used >= this.quantum) ? this.nextTurn(o.frozen) : null;
      if (r.kind !== 'budget' && r.kind !== 'switch') return this.finish(r);
      if (idle !== null) return this.finish(idle);
    }
  }

  /** Whether `pe` can run now: on, not frozen, and awake (a sleeping PE wakes on what it waits for). */
  private ready(pe: Cpu, frozen?: ReadonlySet<Cpu>): boolean {
    if (!pe.on || frozen?.has(pe)) return false;
    if (pe.waiting === Wait.None) return true;
    if (!pe.wakes()) return false;
    pe.waiting = Wait.None;
    return true;
  }

  /**
   * Passes the turn to the next PE; at the end of a round, time advances by the round's
   * longest turn. A round in which no PE could run jumps time to the next deadline, or,
   * with none, is the idle stop returned here.
   */
  private nextTurn(frozen?: ReadonlySet<Cpu>): StopReason | null {
    this.turn++;
    this.used = 0;
    this.turnStartIcount = this.pes[this.turn % this.pes.length]!.icount;
    if (this.turn < this.pes.length) return null;
    this.turn = 0;
    this.turnStartIcount = this.pes[0]!.icount;
    this.roundStart += this.roundLength;
    this.roundLength = 0;
    if (this.roundRan) {
      this.roundRan = false;
      return null;
    }
    const next = this.clock.next();
    if (next === Infinity) return { kind: 'idle', message: this.idleMessage(frozen) };
    this.roundStart = Math.max(this.roundStart, next);
    this.clock.fireDue(this.roundStart);
    return null;
  }

  private idleMessage(frozen?: ReadonlySet<Cpu>): string {
    if (this.pes.every((pe) => !pe.on)) return 'every PE is off (PSCI CPU_OFF) and nothing can turn one on';
    const state = (pe: Cpu): string => {
      if (!pe.on) return 'off';
      if (frozen?.has(pe)) return 'held by the debugger';
      return `in ${pe.waiting === Wait.Event ? 'WFE' : 'WFI'} at 0x${pe.pcs[1]!.toString(16)}`;
    };
    const states = this.pes.map((pe, i) => `PE${i} ${state(pe)}`);
    return `every PE is asleep and nothing can wake one (no interrupt pending, no deadline set): ${states.join(', ')}`;
  }

  private finish(r: StopReason): StopReason {
    this.flush();
    return r;
  }

  /** Sends buffered UART output to its sink. */
  flush(): void {
    if (this.uartBuf.length === 0) return;
    const bytes = Uint8Array.from(this.uartBuf);
    this.uartBuf = [];
    (this.opts.uartOut ?? ((b) => process.stdout.write(b)))(bytes);
  }

  /** The address of a symbol of the loaded image. */
  symbol(name: string): bigint | undefined {
    return this.image?.symbols.find((s) => s.name === name)?.value;
  }
}
