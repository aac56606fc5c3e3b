// PSCI firmware resident in the emulator, reached by SMC (the virt board's conduit with EL2 and no EL3).
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
const NOT_SUPPORTED = -1n,
  INVALID_PARAMETERS = -2n,
  ALREADY_ON = -4n;
const IMPLEMENTED = new Set<number>([
  PSCI.VERSION,
  PSCI.SYSTEM_OFF,
  PSCI.SYSTEM_RESET,
  PSCI.FEATURES,
  PSCI.CPU_ON,
  PSCI.AFFINITY_INFO,
  PSCI.MIGRATE_INFO_TYPE,
]);

export interface PsciHost {
  systemOff(): void;
  systemReset(): void;
}

/** The SMC32 form of a function ID. */
function smc32(fn: number): number {
  return (fn & ~SMC64) >>> 0;
}

function isPsciId(fn: number): boolean {
  const base = smc32(fn);
  return base >= 0x8400_0000 && base <= 0x8400_001f && (fn === base || HAS_SMC64.has(base));
}

/** Handles an SMC if it is a PSCI call; returns false for other function IDs (the SMC is then UNDEFINED). */
export function psciCall(host: PsciHost): (cpu: Cpu) => boolean {
  return (cpu) => {
    const fn = Number(cpu.x[0]! & 0xffff_ffffn) >>> 0;
    if (!isPsciId(fn)) return false;
    let ret: bigint;
    switch (smc32(fn)) {
      case PSCI.VERSION:
        ret = 0x1_0000n;
        break; // PSCI 1.0
      case PSCI.SYSTEM_OFF:
        host.systemOff();
        return true;
      case PSCI.SYSTEM_RESET:
        host.systemReset();
        return true;
      case PSCI.CPU_ON:
        ret = (cpu.x[1]! & 0xff_00ff_ffffn) === 0n ? ALREADY_ON : INVALID_PARAMETERS;
        break;
      case PSCI.AFFINITY_INFO:
        ret = cpu.x[1] === 0n ? 0n : INVALID_PARAMETERS;
        break; // 0: ON
      case PSCI.MIGRATE_INFO_TYPE:
        ret = 2n;
        break; // no trusted OS
      case PSCI.FEATURES: {
        const q = Number(cpu.x[1]! & 0xffff_ffffn) >>> 0;
        ret = isPsciId(q) && IMPLEMENTED.has(smc32(q)) ? 0n : NOT_SUPPORTED;
        break;
      }
      default:
        ret = NOT_SUPPORTED;
    }
    cpu.x[0] = BigInt.asUintN(64, ret);
    return true;
  };
}
