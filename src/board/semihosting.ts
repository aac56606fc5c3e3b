// Arm semihosting over HLT #0xF000: console output and exit only. No host file access.
import type { Cpu } from '../cpu/cpu.js';

export const SYS_WRITEC = 0x03,
  SYS_WRITE0 = 0x04,
  SYS_EXIT = 0x18,
  SYS_EXIT_EXTENDED = 0x20;
const ADP_STOPPED_APPLICATION_EXIT = 0x20026n;

export interface SemihostingHost {
  /** Console bytes (QEMU sends them to stderr; so do we, keeping stdout for the UART). */
  console(bytes: Uint8Array): void;
  exit(code: number, why: string): void;
  /** An operation this build refuses (file access and the rest). */
  refused(op: number): void;
}

function readString(cpu: Cpu, addr: bigint, limit = 1 << 16): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < limit; i++) {
    const b = Number(cpu.read(BigInt.asUintN(64, addr + BigInt(i)), 1, 0));
    if (b === 0) break;
    out.push(b);
  }
  return Uint8Array.from(out);
}

export function semihostingCall(host: SemihostingHost): (cpu: Cpu) => void {
  return (cpu) => {
    const op = Number(cpu.x[0]! & 0xffff_ffffn);
    const param = cpu.x[1]!;
    switch (op) {
      case SYS_WRITEC:
        host.console(Uint8Array.of(Number(cpu.read(param, 1, 0))));
        return;
      case SYS_WRITE0:
        host.console(readString(cpu, param));
        return;
      case SYS_EXIT:
      case SYS_EXIT_EXTENDED: {
        const reason = cpu.read(param, 8, 0);
        const sub = cpu.read(BigInt.asUintN(64, param + 8n), 8, 0);
        const code = reason === ADP_STOPPED_APPLICATION_EXIT ? Number(BigInt.asIntN(32, sub)) & 0xff : 1;
        host.exit(code, `semihosting exit (reason 0x${reason.toString(16)}, code ${code})`);
        return;
      }
      default:
        host.refused(op);
        cpu.x[0] = 0xffff_ffff_ffff_ffffn; // -1: the call failed
    }
  };
}
