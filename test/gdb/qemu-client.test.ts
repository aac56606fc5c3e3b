// The RSP client against QEMU's own gdbstub: proof that it speaks to any stub, not just ours.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { RspClient } from '../../gdbstub/client.js';
import { startQemu, connectQemu, sym, sessionImage, SESSION_ELF, type Qemu } from './harness.js';

let q: Qemu;
let c: RspClient;

beforeAll(async () => {
  q = await startQemu(SESSION_ELF);
  c = await connectQemu(q.port);
});
afterAll(async () => {
  c?.close();
  await q?.stop();
});

describe('RSP client on QEMU', () => {
  it('reads the target description through xi:include', () => {
    const names = c.registers.map((r) => r.name);
    expect(names.slice(0, 34)).toEqual([...Array.from({ length: 31 }, (_, i) => `x${i}`), 'sp', 'pc', 'cpsr']);
    expect(c.registers.length).toBeGreaterThan(34);
  });
  it('reads registers by name and memory', async () => {
    const regs = await c.readRegisters();
    expect(regs.get('pc')).toBe(sessionImage().entry);
    expect(regs.get('cpsr')! & 0xfn).toBe(0x9n); // EL2h
    const mem = await c.readMemory(sessionImage().entry, 4);
    expect(Buffer.from(mem).readUInt32LE(0)).toBe(0x10004000);
  });
  it('writes a register and memory', async () => {
    await c.writeRegister('x7', 0x1234_5678_9abc_def0n);
    expect(await c.readRegister('x7')).toBe(0x1234_5678_9abc_def0n);
    await c.writeMemory(0x4100_0000n, Uint8Array.from([1, 0x23, 0x24, 0x7d]));
    expect(await c.readMemory(0x4100_0000n, 4)).toEqual(Uint8Array.from([1, 0x23, 0x24, 0x7d]));
  });
  it('steps, sets breakpoints and continues across ERET and HVC', async () => {
    const s = await c.step();
    expect(s.kind).toBe('stopped');
    expect(s.signal).toBe(5);
    expect(await c.readRegister('pc')).toBe(sessionImage().entry + 4n);
    await c.insertBreakpoint(sym('before_hvc'));
    const b = await c.cont(5000);
    expect(b.signal).toBe(5);
    expect(await c.readRegister('pc')).toBe(sym('before_hvc'));
    expect((await c.readRegister('cpsr')) & 0xfn).toBe(0x5n); // EL1h
    await c.removeBreakpoint(sym('before_hvc'));
  });
  it('interrupts a running target', async () => {
    const s = await c.cont(200);
    expect(s.kind).toBe('stopped');
    expect(s.signal).toBe(2);
  });
  it('runs monitor commands and collects their output', async () => {
    const out = await c.monitor('info registers');
    expect(out).toMatch(/PC=/);
  });
});
