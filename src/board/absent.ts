// QEMU virt's devices that hypstep does not emulate, answering only what a probe reads, so that a
// program or kernel given QEMU's own device tree (-dtb from QEMU's dumpdtb) finds nothing there
// instead of an external abort: the 32 virtio-mmio slots are empty transports (magic, version,
// vendor, device ID 0: no backend), the PCIe ECAM has no device (every read all ones), and the
// PL031, PL061, fw_cfg, flash, ITS and platform bus read as zero (a PrimeCell with no ID matches
// no driver; an ITS whose GITS_PIDR2 is 0 is not one) and ignore writes. hypstep's own device tree
// leaves them all out.
import type { MmioDevice, PhysBus } from './bus.js';

/** Reads as zero, writes ignored. */
class Absent implements MmioDevice {
  constructor(readonly name: string) {}
  read(): bigint {
    return 0n;
  }
  write(): void {}
}

const VIRTIO_SLOT = 0x200;
const VIRTIO_MAGIC = 0x7472_6976n; // 'virt'
const VIRTIO_VERSION_LEGACY = 1n; // QEMU 7.2's virt transports default to force-legacy
const VIRTIO_VENDOR = 0x554d_4551n; // 'QEMU'

/** virtio-mmio transports with no device behind them, as QEMU answers for an empty slot. */
class EmptyVirtio implements MmioDevice {
  readonly name = 'virtio-mmio (empty)';
  read(offset: number, size: number): bigint {
    if (size !== 4) return 0n;
    switch (offset % VIRTIO_SLOT) {
      case 0x000:
        return VIRTIO_MAGIC;
      case 0x004:
        return VIRTIO_VERSION_LEGACY;
      case 0x00c:
        return VIRTIO_VENDOR;
      default:
        return 0n; // DeviceID 0: no device
    }
  }
  write(): void {}
}

/** A PCIe configuration space with no function at any bus/device/function: all ones, as a master abort reads. */
class EmptyEcam implements MmioDevice {
  readonly name = 'PCIe ECAM (no devices)';
  read(_offset: number, size: number): bigint {
    return (1n << BigInt(8 * size)) - 1n;
  }
  write(): void {}
}

/** QEMU virt's map for what hypstep leaves out (hw/arm/virt.c's base_memmap, GICv3 layout). */
export const ABSENT_DEVICES: readonly { base: number; size: number; dev: MmioDevice }[] = [
  { base: 0x0a00_0000, size: 32 * VIRTIO_SLOT, dev: new EmptyVirtio() },
  { base: 0x40_1000_0000, size: 0x1000_0000, dev: new EmptyEcam() },
  { base: 0x3f00_0000, size: 0x100_0000, dev: new EmptyEcam() }, // the low ECAM (highmem=off)
  { base: 0x0901_0000, size: 0x1000, dev: new Absent('PL031 RTC (absent)') },
  { base: 0x0902_0000, size: 0x18, dev: new Absent('fw_cfg (absent)') },
  { base: 0x0903_0000, size: 0x1000, dev: new Absent('PL061 GPIO (absent)') },
  { base: 0x0000_0000, size: 0x800_0000, dev: new Absent('flash (absent)') },
  { base: 0x0808_0000, size: 0x2_0000, dev: new Absent('GIC ITS (absent)') },
  { base: 0x0c00_0000, size: 0x200_0000, dev: new Absent('platform bus (absent)') },
];

export function mapAbsentDevices(bus: PhysBus): void {
  for (const d of ABSENT_DEVICES) bus.map(d.base, d.size, d.dev);
}
