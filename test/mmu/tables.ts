// Builds translation tables directly in a machine's RAM for walker tests, and sets the
// registers that select them.
import { Machine } from '../../src/board/machine.js';
import { writeSysreg } from '../../src/sysregs/access.js';
import { specOf } from '../../src/sysregs/registry.js';
import type { Cpu } from '../../src/cpu/cpu.js';

export const AF = 1n << 10n;
export const NG = 1n << 11n;
export const CONTIG = 1n << 52n;
export const PXN = 1n << 53n;
export const UXN = 1n << 54n;
export const XN = UXN;
/** AP[2:1] values at bits [7:6]. */
export const AP_PRIV_RW = 0n << 6n,
  AP_RW = 1n << 6n,
  AP_PRIV_RO = 2n << 6n,
  AP_RO = 3n << 6n;
/** Stage-2 S2AP at bits [7:6]: read bit 6, write bit 7; MemAttr at [5:2]. */
export const S2_R = 1n << 6n,
  S2_W = 1n << 7n,
  S2_NORMAL = 0xfn << 2n,
  S2_DEVICE = 0x1n << 2n;
export const ATTR = (i: number): bigint => BigInt(i) << 2n;

export function newMachine(): Machine {
  return new Machine({ memory: 64 * 1024 * 1024, uartOut: () => {} });
}

export function setReg(cpu: Cpu, name: string, v: bigint): void {
  writeSysreg(cpu, specOf(name), v);
}

export function setEL(cpu: Cpu, el: number): void {
  cpu.ps.el = el;
  cpu.contextChanged();
}

/** A set of tables for one stage: allocates granule-sized zeroed tables from `pool`. */
export class Tables {
  readonly root: number;
  private next: number;
  readonly stride: number;

  constructor(
    private readonly m: Machine,
    readonly granuleBits: number,
    readonly inputSize: number,
    readonly startLevel: number,
    pool: number,
  ) {
    this.stride = granuleBits - 3;
    this.next = pool;
    this.root = this.alloc(Math.max(2 ** (3 + inputSize - this.shift(startLevel)), 2 ** granuleBits));
  }

  shift(level: number): number {
    return this.granuleBits + this.stride * (3 - level);
  }

  alloc(size = 2 ** this.granuleBits): number {
    const a = this.next;
    this.next += size;
    this.m.bus.ram.fill(0, a - this.m.bus.ramBase, a - this.m.bus.ramBase + size);
    return a;
  }

  read(pa: number): bigint {
    return this.m.bus.ramView.getBigUint64(pa - this.m.bus.ramBase, true);
  }
  write(pa: number, v: bigint): void {
    this.m.bus.ramView.setBigUint64(pa - this.m.bus.ramBase, v, true);
  }

  /** The address of the descriptor for `ia` at `level`, creating table descriptors on the way. */
  slot(ia: number, level: number, tableBits = 0n): number {
    let table = this.root;
    for (let l = this.startLevel; ; l++) {
      const bits = l === this.startLevel ? this.inputSize - this.shift(l) : this.stride;
      const index = Math.floor(ia / 2 ** this.shift(l)) % 2 ** bits;
      const addr = table + index * 8;
      if (l === level) return addr;
      let d = this.read(addr);
      if ((d & 3n) !== 3n) {
        d = BigInt(this.alloc()) | 3n | tableBits;
        this.write(addr, d);
      }
      table = Number(d & 0xffff_ffff_f000n) - (Number(d & 0xffff_ffff_f000n) % 2 ** this.granuleBits);
    }
  }

  /** Maps `ia` with a block (level < 3) or page (level 3) descriptor to `oa` plus `attrs`. */
  map(ia: number, oa: number, level: number, attrs: bigint, tableBits = 0n): number {
    const addr = this.slot(ia, level, tableBits);
    this.write(addr, BigInt(oa) | attrs | (level === 3 ? 3n : 1n));
    return addr;
  }
}
