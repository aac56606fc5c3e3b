// The physical address space: RAM and memory-mapped devices.

/** A memory-mapped device. Offsets are relative to the device's base. */
export interface MmioDevice {
  readonly name: string;
  read(offset: number, size: number): bigint;
  write(offset: number, size: number, value: bigint): void;
}

/** Raised for a physical address nothing answers: the CPU turns it into a synchronous external abort. */
export class BusError {
  constructor(readonly pa: number) {}
}

interface Mapping {
  base: number;
  size: number;
  dev: MmioDevice;
}

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

export class PhysBus {
  readonly ram: Uint8Array;
  readonly ramView: DataView;
  private readonly mmio: Mapping[] = [];
  /** One byte per RAM page: 1 when decoded instructions are cached for it. */
  readonly codePages: Uint8Array;
  /** Told when a write hits a page with cached code (the machine's code cache). */
  private readonly codeListeners: ((page: number) => void)[] = [];

  constructor(
    readonly ramBase: number,
    readonly ramSize: number,
  ) {
    this.ram = new Uint8Array(ramSize);
    this.ramView = new DataView(this.ram.buffer);
    this.codePages = new Uint8Array(Math.ceil(ramSize / PAGE_SIZE));
  }

  onCodeWrite(listener: (page: number) => void): void {
    this.codeListeners.push(listener);
  }

  map(base: number, size: number, dev: MmioDevice): void {
    this.mmio.push({ base, size, dev });
  }

  isRam(pa: number, size = 1): boolean {
    return pa >= this.ramBase && pa + size <= this.ramBase + this.ramSize;
  }

  private device(pa: number): Mapping {
    for (const m of this.mmio) if (pa >= m.base && pa < m.base + m.size) return m;
    throw new BusError(pa);
  }

  read(pa: number, size: number): bigint {
    const off = pa - this.ramBase;
    if (off >= 0 && off + size <= this.ramSize) {
      const v = this.ramView;
      switch (size) {
        case 1:
          return BigInt(v.getUint8(off));
        case 2:
          return BigInt(v.getUint16(off, true));
        case 4:
          return BigInt(v.getUint32(off, true));
        default:
          return v.getBigUint64(off, true);
      }
    }
    const m = this.device(pa);
    return m.dev.read(pa - m.base, size);
  }

  write(pa: number, size: number, value: bigint): void {
    const off = pa - this.ramBase;
    if (off >= 0 && off + size <= this.ramSize) {
      const v = this.ramView;
      switch (size) {
        case 1:
          v.setUint8(off, Number(value & 0xffn));
          break;
        case 2:
          v.setUint16(off, Number(value & 0xffffn), true);
          break;
        case 4:
          v.setUint32(off, Number(value & 0xffff_ffffn), true);
          break;
        default:
          v.setBigUint64(off, value, true);
      }
      this.codeWritten(off, size);
      return;
    }
    const m = this.device(pa);
    m.dev.write(pa - m.base, size, value);
  }

  /** A 32-bit instruction fetch from RAM (instructions are only fetched from RAM here). */
  fetch32(pa: number): number {
    const off = pa - this.ramBase;
    if (off >= 0 && off + 4 <= this.ramSize) return this.ramView.getUint32(off, true);
    throw new BusError(pa);
  }

  /** Debugger and loader access: no side effects on devices; false where no RAM is. */
  peek(pa: number, out: Uint8Array): boolean {
    if (!this.isRam(pa, out.length)) return false;
    out.set(this.ram.subarray(pa - this.ramBase, pa - this.ramBase + out.length));
    return true;
  }

  poke(pa: number, data: Uint8Array): boolean {
    if (!this.isRam(pa, data.length)) return false;
    const off = pa - this.ramBase;
    this.ram.set(data, off);
    if (data.length !== 0) this.codeWritten(off, data.length);
    return true;
  }

  /** Invalidates the cached code of each page that RAM bytes [off, off+size) touch. */
  private codeWritten(off: number, size: number): void {
    for (let p = off >>> PAGE_SHIFT; p <= (off + size - 1) >>> PAGE_SHIFT; p++) {
      if (this.codePages[p] !== 0) for (const l of this.codeListeners) l(p);
    }
  }
}
