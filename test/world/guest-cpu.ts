// The CPU the synthetic world-layer tests drive by hand: a hypervisor has set it up to run a
// guest (HCR_EL2.VM and RW, VMID 3 in VTTBR_EL2), on a bus that may be shared between PEs.
import { Cpu } from '../../src/cpu/cpu.js';
import { PhysBus } from '../../src/board/bus.js';
import { SR, HCR, specOf } from '../../src/sysregs/registry.js';
import { writeSysreg } from '../../src/sysregs/access.js';

/** 1 MiB of RAM at 1 GiB, as the tests' layouts place their vcpus. */
export const RAM = 0x4000_0000;

export function guestCpu(bus = new PhysBus(RAM, 1 << 20), index = 0): Cpu {
  const c = new Cpu(bus, { index });
  writeSysreg(c, specOf('HCR_EL2'), (1n << BigInt(HCR.VM)) | (1n << BigInt(HCR.RW)));
  c.sr[SR.VTTBR_EL2!] = 3n << 48n;
  return c;
}
