// The PL011 UART as QEMU's virt board has it: transmit to a sink, receive from a queue, and
// its combined interrupt (UARTINTR: RIS & IMSC) on SPI 1, INTID 33.
import type { MmioDevice } from './bus.js';

const DR = 0x000,
  RSR = 0x004,
  FR = 0x018,
  IBRD = 0x024,
  FBRD = 0x028,
  LCR_H = 0x02c,
  CR = 0x030,
  IFLS = 0x034,
  IMSC = 0x038,
  RIS = 0x03c,
  MIS = 0x040,
  ICR = 0x044;
const FR_RXFE = 1 << 4,
  FR_TXFE = 1 << 7;
const RX_INT = 1 << 4,
  TX_INT = 1 << 5,
  RT_INT = 1 << 6;
/** PeriphID0..3 and PCellID0..3 at 0xfe0..0xffc. */
const ID = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

export class Pl011 implements MmioDevice {
  readonly name = 'pl011';
  private readonly rx: number[] = [];
  private regs = Pl011.resetRegs();
  /** Drives the interrupt output (the machine wires it to the GIC). */
  irq: (level: boolean) => void = () => {};
  private level = false;

  constructor(private readonly sink: (byte: number) => void) {}

  private static resetRegs() {
    return { ibrd: 0, fbrd: 0, lcr: 0, cr: 0x300, ifls: 0x12, imsc: 0, ris: TX_INT };
  }

  /** The registers at reset (input already queued stays queued). */
  reset(): void {
    this.regs = Pl011.resetRegs();
    if (this.rx.length !== 0) this.regs.ris |= RX_INT;
    this.update();
  }

  /** Queues input bytes (from stdin, or a debugger). */
  receive(bytes: Uint8Array): void {
    for (const b of bytes) this.rx.push(b);
    if (bytes.length !== 0) this.regs.ris |= RX_INT;
    this.update();
  }

  /** Whether received data raises the interrupt (UARTIMSC.RXIM or RTIM): a driver waits for input by it. */
  get receiveInterruptEnabled(): boolean {
    return (this.regs.imsc & (RX_INT | RT_INT)) !== 0;
  }

  private update(): void {
    const level = (this.regs.ris & this.regs.imsc) !== 0;
    if (level === this.level) return;
    this.level = level;
    this.irq(level);
  }

  read(offset: number, _size: number): bigint {
    const r = this.regs;
    switch (offset) {
      case DR: {
        const b = this.rx.shift();
        if (this.rx.length === 0) r.ris &= ~RX_INT;
        this.update();
        return BigInt(b ?? 0);
      }
      case RSR:
        return 0n;
      case FR:
        return BigInt(FR_TXFE | (this.rx.length === 0 ? FR_RXFE : 0));
      case IBRD:
        return BigInt(r.ibrd);
      case FBRD:
        return BigInt(r.fbrd);
      case LCR_H:
        return BigInt(r.lcr);
      case CR:
        return BigInt(r.cr);
      case IFLS:
        return BigInt(r.ifls);
      case IMSC:
        return BigInt(r.imsc);
      case RIS:
        return BigInt(r.ris);
      case MIS:
        return BigInt(r.ris & r.imsc);
      default:
        if (offset >= 0xfe0 && offset < 0x1000) return BigInt(ID[(offset - 0xfe0) >> 2]!);
        return 0n;
    }
  }

  write(offset: number, _size: number, value: bigint): void {
    const v = Number(value & 0xffff_ffffn);
    const r = this.regs;
    switch (offset) {
      case DR:
        this.sink(v & 0xff);
        r.ris |= TX_INT; // transmitted at once: the transmit interrupt asks for more
        break;
      case IBRD:
        r.ibrd = v & 0xffff;
        break;
      case FBRD:
        r.fbrd = v & 0x3f;
        break;
      case LCR_H:
        r.lcr = v & 0xff;
        break;
      case CR:
        r.cr = v & 0xffff;
        break;
      case IFLS:
        r.ifls = v & 0x3f;
        break;
      case IMSC:
        r.imsc = v & 0x7ff;
        break;
      case ICR:
        r.ris &= ~v;
        break;
      default:
        break; // RSR/ECR clears, and writes to read-only registers, are ignored
    }
    this.update();
  }
}
