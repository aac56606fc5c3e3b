// PSCI 1.1 firmware resident in the emulator, reached by SMC (the virt board's conduit with
// EL2 and no EL3), for a machine of several PEs.
import type { Cpu } from '../cpu/cpu.js';

/** Function IDs, SMC32 forms; those taking addresses also have SMC64 forms (bit 30 set). */
export const PSCI = {
  VERSION: 0x8400_0000,
  CPU_SUSPEND: 0x8400_0001,
  CPU_OFF: 0x8400_0002,
  CPU_ON: 0x8400_0003,
  AFFINITY_INFO: 0x8400_0004,
  MIGRATE_INFO_TYPE: 0x8400_0006,
  SYSTEM_OFF: 0x8400_0008,
  SYSTEM_RESET: 0x8400_0009,
  FEATURES: 0x8400_000a,
} as const;
const SMC64 = 0x4000_0000;
const HAS_SMC64 = new Set<number>([PSCI.CPU_SUSPEND, PSCI.CPU_ON, PSCI.AFFINITY_INFO]);
/** Return codes (PSCI 1.1, DEN0022D table 5). */
export const PSCI_RET = {
  SUCCESS: 0n,
  NOT_SUPPORTED: -1n,
  INVALID_PARAMETERS: -2n,
  ALREADY_ON: -4n,
} as const;
/** AFFINITY_INFO's answers. */
const AFFINITY_ON = 0n,
  AFFINITY_OFF = 1n;
const VERSION_1_1 = 0x1_0001n;
/** MIGRATE_INFO_TYPE: no Trusted OS, so nothing to migrate. */
const NO_TRUSTED_OS = 2n;
/** The affinity fields of an MPIDR (Aff3, Aff2, Aff1, Aff0); a target_cpu with other bits set is invalid. */
const AFFINITY_MASK = 0xff_00ff_ffffn;
/** CPU_SUSPEND power_state (original format): StateID[15:0], StateType[16]; bits above are reserved here. */
const POWER_STATE_RESERVED = 0xfffe_0000n;
const IMPLEMENTED = new Set<number>(Object.values(PSCI));

export interface PsciHost {
  /** Every PE of the machine (AFFINITY_INFO, CPU_ON find their target among them). */
  readonly pes: readonly Cpu[];
  systemOff(): void;
  systemReset(): void;
  /** Powers `target` on at `entry` (EL2h, MMU off, x0 = `context`). */
  cpuOn(target: Cpu, entry: bigint, context: bigint): void;
  /** Powers the calling PE off; the call does not return. */
  cpuOff(caller: Cpu): void;
}

/** The SMC32 form of a function ID. */
function smc32(fn: number): number {
  return (fn & ~SMC64) >>> 0;
}

function isPsciId(fn: number): boolean {
  const base = smc32(fn);
  return base >= 0x8400_0000 && base <= 0x8400_001f && (fn === base || HAS_SMC64.has(base));
}

/** The PE whose MPIDR affinity is `target`, undefined when none is (or reserved bits are set). */
function peByAffinity(host: PsciHost, target: bigint): Cpu | undefined {
  if ((target & ~AFFINITY_MASK) !== 0n) return undefined;
  return host.pes.find((pe) => (pe.mpidr & AFFINITY_MASK) === target);
}

/** AFFINITY_INFO: ON when any PE of the node `target` names at `level` (0 to 3) is on. */
function affinityInfo(host: PsciHost, target: bigint, level: bigint): bigint {
  if (level > 3n || (target & ~AFFINITY_MASK) !== 0n) return PSCI_RET.INVALID_PARAMETERS;
  // Level L ignores the affinity fields below it: Aff0 for 1, Aff1 too for 2, Aff2 too for 3.
  const ignored = [0n, 0xffn, 0xffffn, 0xff_ffffn][Number(level)]!;
  const node = host.pes.filter((pe) => ((pe.mpidr ^ target) & AFFINITY_MASK & ~ignored) === 0n);
  if (node.length === 0) return PSCI_RET.INVALID_PARAMETERS;
  return node.some((pe) => pe.on) ? AFFINITY_ON : AFFINITY_OFF;
}

/** Handles an SMC if it is a PSCI call; returns false for other function IDs (the SMC is then UNDEFINED). */
export function psciCall(host: PsciHost): (cpu: Cpu) => boolean {
  return (cpu) => {
    const fn = Number(cpu.x[0]! & 0xffff_ffffn) >>> 0;
    if (!isPsciId(fn)) return false;
    // SMC32 calls pass 32-bit arguments.
    const arg = (n: number): bigint => (fn & SMC64 ? cpu.x[n]! : cpu.x[n]! & 0xffff_ffffn);
    let ret: bigint;
    switch (smc32(fn)) {
      case PSCI.VERSION:
        ret = VERSION_1_1;
        break;
      case PSCI.SYSTEM_OFF:
        host.systemOff();
        return true;
      case PSCI.SYSTEM_RESET:
        host.systemReset();
        return true;
      case PSCI.CPU_ON: {
        const target = peByAffinity(host, arg(1));
        if (target === undefined) ret = PSCI_RET.INVALID_PARAMETERS;
        else if (target.on) ret = PSCI_RET.ALREADY_ON;
        else {
          host.cpuOn(target, arg(2), arg(3));
          ret = PSCI_RET.SUCCESS;
        }
        break;
      }
      case PSCI.CPU_OFF:
        host.cpuOff(cpu);
        return true;
      case PSCI.CPU_SUSPEND:
        // Every power state is entered as standby (as QEMU does): the call returns when the PE wakes.
        if ((arg(1) & POWER_STATE_RESERVED) !== 0n) ret = PSCI_RET.INVALID_PARAMETERS;
        else {
          ret = PSCI_RET.SUCCESS;
          cpu.sleepUntilInterrupt();
        }
        break;
      case PSCI.AFFINITY_INFO:
        ret = affinityInfo(host, arg(1), arg(2));
        break;
      case PSCI.MIGRATE_INFO_TYPE:
        ret = NO_TRUSTED_OS;
        break;
      case PSCI.FEATURES: {
        const q = Number(cpu.x[1]! & 0xffff_ffffn) >>> 0;
        ret = isPsciId(q) && IMPLEMENTED.has(smc32(q)) ? PSCI_RET.SUCCESS : PSCI_RET.NOT_SUPPORTED;
        break;
      }
      default:
        ret = PSCI_RET.NOT_SUPPORTED;
    }
    cpu.x[0] = BigInt.asUintN(64, ret);
    return true;
  };
}
