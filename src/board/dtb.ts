// The device tree of the machine hypstep emulates: QEMU virt's nodes for what exists here (RAM,
// the PEs with PSCI, the GICv3 without an ITS, the generic timers with the EL2 virtual timer's
// PPI, the PL011 and its clock), nothing for the devices hypstep leaves out, and /chosen with the
// boot arguments. A user's DTB (-dtb) gets the same /memory, /chosen and /psci fix-ups QEMU applies.
import { FdtError, findNode, node, parseFdt, prop, propString, serializeFdt, type FdtNode } from '../loader/fdt.js';
import { VIRT, virtMpidr } from './machine.js';

/** QEMU's virt DTB is 1 MiB (FDT_MAX_SIZE), most of it free space; ours is the same size. */
export const VIRT_DTB_SIZE = 0x10_0000;

/** The GICv3's frames on virt (distributor, then one 128 KiB redistributor per PE). */
const GIC_DIST = { base: 0x0800_0000, size: 0x1_0000 };
const GIC_REDIST = { base: 0x080a_0000, stride: 0x2_0000 };

// GIC interrupt specifiers: <type number flags>, type 0 an SPI and 1 a PPI (numbered from 16),
// flags 4 level-high.
const SPI = 0,
  PPI = 1,
  LEVEL_HIGH = 4;
/** The PL011's SPI (INTID 33). */
const UART_SPI = 1;
/**
 * The architected timers' PPIs in the binding's order: secure physical (29; there is no EL3, but
 * the binding has its slot), EL1 physical (30), EL1 virtual (27), EL2 physical (26), EL2 virtual
 * (28, FEAT_VHE's, which QEMU 7.2's DTB leaves out).
 */
const TIMER_PPIS = [13, 14, 11, 10, 12];
/** The virtual CPU interface's maintenance interrupt, PPI 9 (INTID 25). */
const GIC_MAINTENANCE_PPI = 9;
const APB_CLOCK_HZ = 24_000_000;

/** PSCI function IDs for the binding's 0.1 properties, as QEMU writes them (SMC64 where there are both). */
const PSCI_IDS = { cpu_suspend: 0xc400_0001, cpu_off: 0x8400_0002, cpu_on: 0xc400_0003, migrate: 0xc400_0005 };

export interface BootInfo {
  /** Bytes of RAM from VIRT.RAM_BASE. */
  ramSize: number;
  smp: number;
  /** -append: /chosen/bootargs when not empty. */
  bootargs?: string;
  /** The initrd's placement: /chosen/linux,initrd-start and -end. */
  initrd?: { start: number; end: number };
}

const UART_PATH = `/pl011@${VIRT.UART_BASE.toString(16)}`;

function psciNode(): FdtNode {
  return node('psci', [
    ['compatible', prop.strings('arm,psci-1.0', 'arm,psci-0.2', 'arm,psci')],
    ['method', prop.strings('smc')], // QEMU's conduit for a guest started at EL2 with no EL3
    ...Object.entries(PSCI_IDS).map(([k, v]): [string, Uint8Array] => [k, prop.u32(v)]),
  ]);
}

function memoryNode(ramSize: number): FdtNode {
  return node(`memory@${VIRT.RAM_BASE.toString(16)}`, [
    ['device_type', prop.strings('memory')],
    ['reg', prop.u64(VIRT.RAM_BASE, ramSize)],
  ]);
}

/** The device tree of hypstep's virt machine with `info`'s RAM, PEs and boot arguments. */
export function virtDeviceTree(info: BootInfo): FdtNode {
  const CLOCK = 1,
    GIC = 2;
  const cpus = node(
    'cpus',
    [
      ['#address-cells', prop.u32(1)],
      ['#size-cells', prop.u32(0)],
    ],
    Array.from({ length: info.smp }, (_, i) => {
      const aff = Number(virtMpidr(i) & 0xff_ffffn);
      return node(`cpu@${aff.toString(16)}`, [
        ['device_type', prop.strings('cpu')],
        ['compatible', prop.strings('arm,armv8')],
        ['reg', prop.u32(aff)],
        ['enable-method', prop.strings('psci')],
      ]);
    }),
  );
  const gic = node(`intc@${GIC_DIST.base.toString(16)}`, [
    ['compatible', prop.strings('arm,gic-v3')],
    ['#interrupt-cells', prop.u32(3)],
    ['interrupt-controller', prop.empty()],
    ['#address-cells', prop.u32(2)],
    ['#size-cells', prop.u32(2)],
    ['ranges', prop.empty()],
    ['#redistributor-regions', prop.u32(1)],
    ['reg', prop.u64(GIC_DIST.base, GIC_DIST.size, GIC_REDIST.base, GIC_REDIST.stride * info.smp)],
    ['interrupts', prop.u32(PPI, GIC_MAINTENANCE_PPI, LEVEL_HIGH)],
    ['phandle', prop.u32(GIC)],
  ]);
  const chosen = node('chosen', [['stdout-path', prop.strings(UART_PATH)]]);
  const root = node(
    '',
    [
      ['#address-cells', prop.u32(2)],
      ['#size-cells', prop.u32(2)],
      ['compatible', prop.strings('linux,dummy-virt')],
      ['model', prop.strings('linux,dummy-virt')],
      ['interrupt-parent', prop.u32(GIC)],
    ],
    [
      cpus,
      gic,
      node('timer', [
        ['compatible', prop.strings('arm,armv8-timer', 'arm,armv7-timer')],
        ['always-on', prop.empty()],
        ['interrupts', prop.u32(...TIMER_PPIS.flatMap((n) => [PPI, n, LEVEL_HIGH]))],
      ]),
      node('apb-pclk', [
        ['compatible', prop.strings('fixed-clock')],
        ['#clock-cells', prop.u32(0)],
        ['clock-frequency', prop.u32(APB_CLOCK_HZ)],
        ['clock-output-names', prop.strings('clk24mhz')],
        ['phandle', prop.u32(CLOCK)],
      ]),
      node(UART_PATH.slice(1), [
        ['compatible', prop.strings('arm,pl011', 'arm,primecell')],
        ['reg', prop.u64(VIRT.UART_BASE, VIRT.UART_SIZE)],
        ['interrupts', prop.u32(SPI, UART_SPI, LEVEL_HIGH)],
        ['clocks', prop.u32(CLOCK, CLOCK)],
        ['clock-names', prop.strings('uartclk', 'apb_pclk')],
      ]),
      chosen,
    ],
  );
  applyBootInfo(root, info);
  return root;
}

/**
 * What QEMU's arm_load_dtb does to any tree it loads: one /memory node for the RAM (the tree's
 * own memory nodes dropped), /chosen created when missing with bootargs and the initrd range, and
 * a /psci node when the tree has none.
 */
function applyBootInfo(root: FdtNode, info: BootInfo): void {
  root.children = root.children.filter((c) => propString(c, 'device_type') !== 'memory');
  root.children.unshift(memoryNode(info.ramSize));
  let chosen = findNode(root, '/chosen');
  if (!chosen) root.children.push((chosen = node('chosen')));
  if (info.bootargs) setProp(chosen, 'bootargs', prop.strings(info.bootargs));
  if (info.initrd) {
    setProp(chosen, 'linux,initrd-start', prop.u64(info.initrd.start));
    setProp(chosen, 'linux,initrd-end', prop.u64(info.initrd.end));
  }
  if (!findNode(root, '/psci')) root.children.unshift(psciNode());
}

/** As libfdt's fdt_setprop: a new property goes first in its node, a replaced one keeps its place. */
function setProp(n: FdtNode, name: string, value: Uint8Array): void {
  n.props = n.props.has(name) ? n.props.set(name, value) : new Map([[name, value], ...n.props]);
}

/** The blob for the generated tree: QEMU's size, so a program that edits it in place has room. */
export function virtDtb(info: BootInfo): Uint8Array {
  return serializeFdt(virtDeviceTree(info), { totalSize: VIRT_DTB_SIZE });
}

/**
 * A user's DTB (-dtb) with the boot fix-ups applied. Its size grows as QEMU grows a loaded file
 * ((file + 10000) * 2 bytes), room for what the fix-ups and the guest add.
 */
export function userDtb(file: Uint8Array, info: BootInfo, what: string): Uint8Array {
  let root: FdtNode;
  try {
    root = parseFdt(file);
  } catch (e) {
    if (e instanceof FdtError) throw new FdtError(`${what}: not a device tree blob: ${e.message}`);
    throw e;
  }
  applyBootInfo(root, info);
  return serializeFdt(root, { totalSize: (file.length + 10000) * 2 });
}
