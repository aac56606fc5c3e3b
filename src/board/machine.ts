// The virt-compatible board: RAM, PL011, semihosting and PSCI around one CPU, and the image loader.
import { Cpu, type StopReason } from '../cpu/cpu.js';
import { PhysBus } from './bus.js';
import { Pl011 } from './pl011.js';
import { semihostingCall } from './semihosting.js';
import { psciCall } from './psci.js';
import { LoadError, type Image } from '../loader/elf.js';
import createDebug from 'debug';

const log = createDebug('hypstep:board');

/** QEMU virt's memory map. */
export const VIRT = { RAM_BASE: 0x4000_0000, UART_BASE: 0x0900_0000, UART_SIZE: 0x1000 } as const;
export const DEFAULT_RAM = 512 * 1024 * 1024;

export interface MachineOptions {
  /** RAM size in bytes. */
  memory?: number;
  /** UART transmit bytes (the CLI writes them to stdout). */
  uartOut?: (bytes: Uint8Array) => void;
  /** Semihosting console bytes (stderr, as QEMU does). */
  consoleOut?: (bytes: Uint8Array) => void;
}

export class Machine {
  readonly bus: PhysBus;
  readonly cpu: Cpu;
  readonly uart: Pl011;
  image: Image | null = null;
  /** Set when the guest has asked to stop: semihosting exit code, 0 for PSCI SYSTEM_OFF. */
  exitCode: number | null = null;
  private uartBuf: number[] = [];
  private pendingReset = false;
  private dirty = false;

  constructor(private readonly opts: MachineOptions = {}) {
    this.bus = new PhysBus(VIRT.RAM_BASE, opts.memory ?? DEFAULT_RAM);
    this.cpu = new Cpu(this.bus);
    this.uart = new Pl011((b) => {
      this.uartBuf.push(b);
      if (this.uartBuf.length >= 4096) this.flush();
    });
    this.bus.map(VIRT.UART_BASE, VIRT.UART_SIZE, this.uart);
    const exit = (code: number, why: string) => {
      this.exitCode = code;
      this.cpu.requestStop({ kind: 'exit', code, why });
    };
    this.cpu.semihost = semihostingCall({
      console: (bytes) => (opts.consoleOut ?? ((b) => process.stderr.write(b)))(bytes),
      exit,
      refused: (op) => log(`semihosting operation 0x${op.toString(16)} refused (console and exit only)`),
    });
    this.cpu.firmwareCall = psciCall({
      systemOff: () => exit(0, 'PSCI SYSTEM_OFF'),
      systemReset: () => {
        this.pendingReset = true;
        this.cpu.requestStop({ kind: 'requested', why: 'PSCI SYSTEM_RESET' });
      },
    });
  }

  /** Copies an image into RAM and resets the CPU to its entry at EL2h with DAIF masked. */
  load(image: Image): void {
    for (const s of image.segments) {
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

  /** Reloads the image and resets the CPU, as a board reset does. */
  reset(): void {
    const image = this.image;
    // New RAM is already zero (and lazily mapped by the OS): touch it only after a run dirtied it.
    if (this.dirty) this.bus.ram.fill(0);
    this.dirty = true;
    if (image) {
      for (const s of image.segments) {
        this.bus.poke(s.paddr, s.data);
      }
    }
    this.cpu.reset(image?.entry ?? BigInt(VIRT.RAM_BASE));
    this.exitCode = null;
  }

  /** Runs up to `budget` instructions; handles board-level stops (reset) itself. */
  run(budget: number): StopReason {
    let left = budget;
    for (;;) {
      const start = this.cpu.icount;
      const r = this.cpu.run(left);
      left -= this.cpu.icount - start;
      if (this.pendingReset) {
        this.pendingReset = false;
        this.flush();
        this.reset();
        if (left > 0) continue;
      }
      this.flush();
      return r;
    }
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
