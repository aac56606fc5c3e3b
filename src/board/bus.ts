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

/** Whether typed arrays on this host are little-endian, as the guest's memory is. */
export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export const PAGE_SHIFT = 12;

/** A 64-bit value seen as two int32 halves (little-endian order: [0] = bits 31:0). */
const S64 = new BigUint64Array(1);
const S32 = new Int32Array(S64.buffer);
export const PAGE_SIZE = 1 << PAGE_SHIFT;

export class PhysBus {
  readonly ram: Uint8Array;
  readonly ramView: DataView;
  /**
   * RAM as 16-, 32- and 64-bit elements in the host's byte order, for compiled code's aligned
   * accesses (used only where the host is little-endian, as the guest's data is: LITTLE_ENDIAN_HOST).
   */
  readonly ram16: Uint16Array;
  readonly ram32: Int32Array;
  readonly ram64: BigUint64Array;
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
    this.ram16 = new Uint16Array(this.ram.buffer);
    this.ram32 = new Int32Array(this.ram.buffer);
    this.ram64 = new BigUint64Array(this.ram.buffer);
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
      // Through the scratch's int32 halves: BigInt(number) and getBigUint64 allocate and cost several times more.
      switch (size) {
        case 1:
          S32[0] = v.getUint8(off);
          break;
        case 2:
          S32[0] = v.getUint16(off, true);
          break;
        case 4:
          S32[0] = v.getInt32(off, true);
          break;
        default:
          S32[0] = v.getInt32(off, true);
          S32[1] = v.getInt32(off + 4, true);
          return S64[0]!;
      }
      S32[1] = 0;
      return S64[0]!;
    }
    const m = this.device(pa);
    return m.dev.read(pa - m.base, size);
  }

  write(pa: number, size: number, value: bigint): void {
    const off = pa - this.ramBase;
    if (off >= 0 && off + size <= this.ramSize) {
      const v = this.ramView;
      // Through the scratch's int32 halves, not Number() or setBigUint64.
      S64[0] = value;
      switch (size) {
        case 1:
          v.setUint8(off, S32[0]! & 0xff);
          break;
        case 2:
          v.setUint16(off, S32[0]! & 0xffff, true);
          break;
        case 4:
          v.setInt32(off, S32[0]!, true);
          break;
        default:
          v.setInt32(off, S32[0]!, true);
          v.setInt32(off + 4, S32[1]!, true);
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

  /**
   * How many pokes wrote RAM: writes no PE made, so no watch event reports them. An observer that
   * keeps a verdict on what RAM held (the world layer's entry check) compares this count.
   */
  pokes = 0;

  poke(pa: number, data: Uint8Array): boolean {
    if (!this.isRam(pa, data.length)) return false;
    const off = pa - this.ramBase;
    this.ram.set(data, off);
    this.pokes++;
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
