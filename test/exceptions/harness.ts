// Executes assembled instructions one by one at a chosen EL, recording the exceptions
// they take: for unit tests of system instructions, sysregs and the exception model.
import { Machine } from '../../src/board/machine.js';
import type { Cpu } from '../../src/cpu/cpu.js';
import type { ExceptionTaken } from '../../src/cpu/events.js';
import { SR, HCR, sysregByName } from '../../src/sysregs/registry.js';
import { writeSysreg, readSysreg } from '../../src/sysregs/access.js';
import { assemble } from '../helpers/asm.js';

export const VECTORS = 0x4000_0000n; // RAM base; the code is linked at 0x4008_0000

export interface Exec {
  cpu: Cpu;
  /** Exceptions taken, in order (execution stops at the first). */
  taken: ExceptionTaken[];
  /** Instructions completed without an exception. */
  done: number;
  /** Why the run stopped, when the machine stopped (MachineStop, exit). */
  stop: string | null;
  machine: Machine;
}

export interface ExecOptions {
  el?: 0 | 1 | 2;
  /** HCR_EL2 value (RW is added unless `aarch32El1`). */
  hcr?: bigint;
  /** Registers to set first, by table name. */
  regs?: Record<string, bigint>;
  x?: Record<number, bigint>;
  /** An .arch directive for the assembler. */
  arch?: string;
  setup?: (cpu: Cpu) => void;
}

const cache = new Map<string, ReturnType<typeof assemble>>();

/** Runs `lines` from their start at the given EL until all ran or one takes an exception. */
export function exec(lines: string[], o: ExecOptions = {}): Exec {
  const src = `${o.arch ? `.arch ${o.arch}\n` : ''}.text\n.global _start\n_start:\n${lines.join('\n')}\n`;
  let image = cache.get(src);
  if (image === undefined) {
    image = assemble(src);
    cache.set(src, image);
  }
  const machine = new Machine({ memory: 16 * 1024 * 1024, uartOut: () => {}, consoleOut: () => {} });
  machine.load(image);
  const cpu = machine.cpu;
  setReg(cpu, 'HCR_EL2', (o.hcr ?? 0n) | (1n << BigInt(HCR.RW)));
  setReg(cpu, 'VBAR_EL1', VECTORS);
  setReg(cpu, 'VBAR_EL2', VECTORS);
  for (const [name, v] of Object.entries(o.regs ?? {})) setReg(cpu, name, v);
  for (const [n, v] of Object.entries(o.x ?? {})) cpu.x[Number(n)] = v;
  cpu.ps.el = o.el ?? 2;
  cpu.ps.sp = cpu.ps.el === 0 ? 0 : 1;
  cpu.ps.daif = 0xf;
  const taken: ExceptionTaken[] = [];
  cpu.observer = {
    exceptionTaken: (e) => {
      taken.push(e);
    },
  };
  o.setup?.(cpu); // may replace the observer
  let done = 0;
  let stop: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const r = cpu.step();
    if (r !== null) {
      stop = r.kind === 'unimplemented' ? r.message : r.kind;
      break;
    }
    if (taken.length) break;
    done++;
  }
  return { cpu, taken, done, stop, machine };
}

export function setReg(cpu: Cpu, name: string, v: bigint): void {
  const s = sysregByName(name);
  if (!s) throw new Error(`no register ${name}`);
  writeSysreg(cpu, s, v);
}
export function getReg(cpu: Cpu, name: string): bigint {
  const s = sysregByName(name);
  if (!s) throw new Error(`no register ${name}`);
  return readSysreg(cpu, s);
}

/** ESR from the ARM ARM layout: EC[31:26], IL=1, ISS. */
export function esrOf(ec: number, iss = 0): number {
  return ((ec << 26) | (1 << 25) | iss) >>> 0;
}

/** ISS of a trapped MSR/MRS/SYS (EC 0x18). */
export function sysIss(
  op0: number,
  op1: number,
  crn: number,
  crm: number,
  op2: number,
  rt: number,
  read: boolean,
): number {
  return (op0 << 20) | (op2 << 17) | (op1 << 14) | (crn << 10) | (rt << 5) | (crm << 1) | (read ? 1 : 0);
}

export { SR };
