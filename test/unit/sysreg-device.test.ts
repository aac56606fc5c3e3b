// The per-machine system-register registry: a device adds its own registers (as the GIC CPU
// interface will add ICC_*), with handlers that reach the device and the PE that accessed
// them, and trapped by the row's controls like any register of the table.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/board/machine.js';
import { HCR, SR, specOf } from '../../src/sysregs/registry.js';
import { writeSysreg } from '../../src/sysregs/access.js';
import { sysTrapIss } from '../../src/sysregs/access.js';
import type { ExceptionTaken } from '../../src/cpu/events.js';
import { encode } from '../helpers/asm.js';

const CODE = 0x4008_0000;
/** S3_0_C15_C0_0: the IMPLEMENTATION DEFINED space, where HCR_EL2.TIDCP traps EL1's accesses. */
const ENC = { op0: 3, op1: 0, crn: 15, crm: 0, op2: 0 };

function machine(withDevice: boolean) {
  const m = new Machine({ smp: 2, memory: 16 << 20, uartOut: () => {} });
  const writes: string[] = [];
  let latch = 0n;
  if (withDevice) {
    m.sysregs.register(
      { name: 'DEV_LATCH', enc: '3 0 15 0 0', el: 1, group: 'el1', traps: ['TIDCP'] },
      {
        read: (cpu) => latch + BigInt(cpu.index),
        write: (cpu, v) => {
          latch = v;
          writes.push(`PE${cpu.index} 0x${v.toString(16)}`);
        },
      },
    );
  }
  const words = encode(['mrs x3, s3_0_c15_c0_0', 'msr s3_0_c15_c0_0, x4']);
  const bytes = new Uint8Array(words.length * 4);
  words.forEach((w, i) => new DataView(bytes.buffer).setUint32(i * 4, w, true));
  m.bus.poke(CODE, bytes);
  return { m, writes };
}

/** Runs one instruction at `CODE + 4 * index` on PE `pe` at `el`; returns the exception it took, if any. */
function exec(m: Machine, pe: number, el: number, index: number, hcr = 0n): ExceptionTaken | undefined {
  const cpu = m.pes[pe]!;
  writeSysreg(cpu, specOf('HCR_EL2'), hcr | (1n << BigInt(HCR.RW)));
  cpu.ps.el = el;
  cpu.pcs[0] = BigInt(CODE + 4 * index);
  let taken: ExceptionTaken | undefined;
  cpu.observer = { exceptionTaken: (e) => (taken = e) };
  cpu.step();
  cpu.observer = null;
  return taken;
}

describe('device-registered system registers', () => {
  it('MSR and MRS reach the device with the PE that made the access, at EL2 and EL1', () => {
    const { m, writes } = machine(true);
    m.pes[0]!.x[4] = 0x41n;
    expect(exec(m, 0, 2, 1)).toBeUndefined();
    expect(writes).toEqual(['PE0 0x41']);
    expect(exec(m, 0, 2, 0)).toBeUndefined();
    expect(m.pes[0]!.x[3]).toBe(0x41n);
    expect(exec(m, 1, 1, 0)).toBeUndefined(); // PE 1 at EL1, TIDCP clear
    expect(m.pes[1]!.x[3]).toBe(0x42n);
  });

  it("the row's trap applies: HCR_EL2.TIDCP traps EL1's MRS and MSR to EL2 with the MSR/MRS syndrome", () => {
    const { m, writes } = machine(true);
    const tidcp = 1n << BigInt(HCR.TIDCP);
    const read = exec(m, 0, 1, 0, tidcp);
    expect(read).toMatchObject({ fromEL: 1, toEL: 2, kind: 0 });
    expect(read!.esr).toBe(((0x18 << 26) | (1 << 25) | sysTrapIss(ENC, 3, true)) >>> 0);
    const write = exec(m, 0, 1, 1, tidcp);
    expect(write!.esr).toBe(((0x18 << 26) | (1 << 25) | sysTrapIss(ENC, 4, false)) >>> 0);
    expect(writes).toEqual([]);
    expect(m.pes[0]!.sr[SR.ESR_EL2!]).toBe(BigInt(write!.esr));
  });

  it('a machine without the device has no such register: the access is UNDEFINED', () => {
    const { m } = machine(false);
    expect(exec(m, 0, 2, 0)).toMatchObject({ toEL: 2, esr: 0x0200_0000 });
  });

  it('a device cannot take an encoding that is already a register, nor add an alias', () => {
    const { m } = machine(true);
    const access = { read: () => 0n, write: () => {} };
    expect(() => m.sysregs.register({ name: 'X', enc: '3 0 1 0 0', el: 1, group: 'el1' }, access)).toThrow(/SCTLR_EL1/);
    expect(() => m.sysregs.register({ name: 'Y', enc: '3 0 15 0 0', el: 1, group: 'el1' }, access)).toThrow(
      /DEV_LATCH/,
    );
    expect(() => m.sysregs.register({ name: 'Z', enc: '3 0 15 0 1', el: 1, group: 'el1' }, { read: () => 0n })).toThrow(
      /handler/,
    );
  });
});
