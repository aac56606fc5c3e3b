// hypstep's stub driven by the RSP client: registers, memory, breakpoints, watchpoints,
// stepping across exception entry and return, monitor commands, attach/detach.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { RspClient } from '../../gdbstub/client.js';
import { startHyp, sym, sessionImage, waitDetached, type Hyp } from './harness.js';

let hyp: Hyp;
let c: RspClient;

beforeEach(async () => {
  hyp = await startHyp();
  c = await RspClient.connect('127.0.0.1', hyp.port, { timeoutMs: 5000 });
});
afterEach(async () => {
  c.close();
  await hyp.handle.close();
});

async function stepTo(addr: bigint, max = 100): Promise<void> {
  for (let i = 0; i < max; i++) {
    if ((await c.readRegister('pc')) === addr) return;
    await c.step();
  }
  throw new Error(`did not reach 0x${addr.toString(16)} in ${max} steps`);
}

describe('target description', () => {
  it('has the core registers and the system-register table under lower-case names', () => {
    const names = c.registers.map((r) => r.name);
    expect(names.slice(0, 34)).toEqual([...Array.from({ length: 31 }, (_, i) => `x${i}`), 'sp', 'pc', 'cpsr']);
    for (const n of ['sctlr_el1', 'hcr_el2', 'vttbr_el2', 'sctlr_el12', 'elr_el2', 'sp_el1', 'currentel', 'sp_el2']) {
      expect(names).toContain(n);
    }
    expect(c.register('hcr_el2').group).toBe('system');
    expect(c.register('pc').feature).toBe('org.gnu.gdb.aarch64.core');
    expect(new Set(names).size).toBe(names.length);
    expect(c.features.get('QStartNoAckMode')).toBe('+');
    expect(c.features.get('PacketSize')).toBe('4000');
  });
});

describe('registers', () => {
  it('start at the entry at EL2h with DAIF masked; g carries every register', async () => {
    const regs = await c.readRegisters();
    expect(regs.get('pc')).toBe(sessionImage().entry);
    expect(regs.get('cpsr')).toBe(0x3c9n);
    expect(c.gRegisterCount).toBe(c.registers.length);
    expect(regs.get('vbar_el2')).toBe(0n);
    expect(await c.readRegister('currentel')).toBe(8n);
  });
  it('write through the same path as software, and refuse read-only ones', async () => {
    await c.writeRegister('x5', 0xdead_beef_0123_4567n);
    expect(await c.readRegister('x5')).toBe(0xdead_beef_0123_4567n);
    await c.writeRegister('hcr_el2', (1n << 34n) | (1n << 31n));
    expect(hyp.machine.cpu.e2h).toBe(true); // the write's side effect (HCR_EL2 caches) happened
    // With E2H=1 at EL2, sctlr_el1 still names the EL1 register, and sctlr_el12 reaches it too.
    await c.writeRegister('sctlr_el12', 0x30d0_0801n);
    expect(await c.readRegister('sctlr_el1')).toBe(0x30d0_0801n);
    expect(await c.readRegister('sctlr_el2')).not.toBe(0x30d0_0801n);
    await expect(c.writeRegister('currentel', 0n)).rejects.toThrow(/E0/);
    await expect(c.writeRegister('cpsr', 0x3cdn)).rejects.toThrow(); // EL3 does not exist
    await c.writeRegister('cpsr', 0x3c5n);
    expect(hyp.machine.cpu.ps.el).toBe(1);
    expect(await c.readRegister('currentel')).toBe(4n);
  });
  it('answer a bad register number with an error, not a crash', async () => {
    expect(await c.request('p3e8')).toMatch(/^E/);
    expect(await c.request('Pzz=00')).toMatch(/^E/);
    expect(await c.request('P0=00')).toMatch(/^E/); // wrong width
  });
});

describe('memory', () => {
  it('reads the image, writes with M and X, and refuses holes and devices', async () => {
    const entry = sessionImage().entry;
    const mem = await c.readMemory(entry, 8);
    expect(Buffer.from(mem).readUInt32LE(0)).toBe(0x10004000); // adr x0, el2_vectors
    const data = Uint8Array.from([0x24, 0x23, 0x7d, 0x2a, 0, 1, 2, 3]); // every escaped byte
    await c.writeMemory(0x4100_0000n, data, true);
    expect(await c.readMemory(0x4100_0000n, 8)).toEqual(data);
    await c.writeMemory(0x4100_0010n, Uint8Array.from([9, 8, 7]), false);
    expect(await c.readMemory(0x4100_0010n, 3)).toEqual(Uint8Array.from([9, 8, 7]));
    expect(await c.request('m0,4')).toMatch(/^E/); // nothing at PA 0
    expect(await c.request('m9000000,4')).toMatch(/^E/); // the UART: no side-effecting debugger reads
    // A read running off the end of RAM returns the readable part.
    const end = 0x4000_0000 + 64 * 1024 * 1024;
    expect(await c.request(`m${(end - 2).toString(16)},4`)).toBe('0000');
    expect(await c.request('M4100000,2:zz')).toMatch(/^E/);
    expect(await c.request('X4100000,3:ab')).toMatch(/^E/); // length mismatch
  });
  it('shows original instructions at software breakpoints', async () => {
    const at = sym('before_hvc');
    const before = await c.readMemory(at, 4);
    await c.insertBreakpoint(at, 'sw');
    expect(await c.readMemory(at, 4)).toEqual(before);
  });
});

describe('execution', () => {
  it('steps across ERET into EL1 and across HVC to the EL2 vector', async () => {
    await stepTo(sym('before_eret'));
    let s = await c.step();
    expect(s.registers.get(32)).toBe(sym('el1_entry')); // expedited PC
    expect(s.registers.get(33)).toBe(0x3c5n); // EL1h
    expect(await c.readRegister('sp')).toBe(await c.readRegister('sp_el1'));
    await c.insertBreakpoint(sym('before_hvc'));
    s = await c.cont();
    expect(s.reason).toBe('swbreak');
    expect(await c.readRegister('pc')).toBe(sym('before_hvc'));
    s = await c.step();
    expect(s.registers.get(32)).toBe(sym('el2_sync_lower'));
    expect(s.registers.get(33)! & 0xfn).toBe(0x9n); // EL2h
    expect(await c.readRegister('elr_el2')).toBe(sym('after_hvc'));
    expect((await c.readRegister('esr_el2')) >> 26n).toBe(0x16n); // EC = HVC
  });
  it('reports hardware breakpoints as hwbreak and continues from a breakpoint', async () => {
    await c.insertBreakpoint(sym('el2_sync_lower'), 'hw');
    let s = await c.cont();
    expect(s.reason).toBe('hwbreak');
    const x3 = await c.readRegister('x3');
    s = await c.cont(); // from the breakpoint's own PC: runs the loop once more
    expect(s.reason).toBe('hwbreak');
    expect(await c.readRegister('x3')).toBe(x3 + 1n);
    await c.removeBreakpoint(sym('el2_sync_lower'), 'hw');
    expect(await c.request(`z1,${sym('el2_sync_lower').toString(16)},4`)).toMatch(/^E/);
  });
  it('stops before a watched store, reporting the data address', async () => {
    const counter = sym('counter');
    await c.insertBreakpoint(counter, 'write', 8);
    let s = await c.cont();
    expect(s.reason).toBe('watch');
    expect(s.watchAddress).toBe(counter);
    expect(await c.readRegister('pc')).toBe(sym('store_counter'));
    expect(await c.readMemory(counter, 8)).toEqual(new Uint8Array(8)); // not yet written
    await c.step(); // the store happens now
    expect(Buffer.from(await c.readMemory(counter, 8)).readBigUInt64LE()).toBe(1n);
    await c.removeBreakpoint(counter, 'write', 8);
    await c.insertBreakpoint(counter, 'read', 8);
    s = await c.cont();
    expect(s.reason).toBe('rwatch');
    expect(await c.readRegister('pc')).toBe(sym('after_hvc'));
  });
  it('interrupts a running guest with 0x03', async () => {
    const t0 = Date.now();
    const s = await c.cont(300);
    expect(s.signal).toBe(2);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(hyp.machine.cpu.icount).toBeGreaterThan(1000);
  });
});

describe('monitor commands', () => {
  it('help lists every command with one line each', async () => {
    const out = await c.monitor('help');
    for (const n of ['help', 'info el', 'memory', 'translate', 'step-irq', 'reset'])
      expect(out).toMatch(new RegExp(`^  ${n}\\b`, 'm'));
  });
  it('info el, memory views, translate, step-irq, reset', async () => {
    expect(await c.monitor('info el')).toMatch(/EL2h.*\n.*E2H=0 TGE=0 VM=0/);
    expect(await c.monitor('memory phys')).toMatch(/memory view: phys/);
    expect(await c.monitor('memory')).toMatch(/^\* phys/m);
    await expect(c.monitor('memory bogus')).rejects.toThrow(/unknown view 'bogus'/);
    expect(await c.monitor('translate 0x40080000 el1')).toMatch(/→ PA 0x40080000/);
    await expect(c.monitor('translate nope')).rejects.toThrow(/not an address/);
    expect(await c.monitor('step-irq on')).toMatch(/step-irq on/);
    await c.step();
    await c.step();
    expect(await c.readRegister('pc')).not.toBe(sessionImage().entry);
    expect(await c.monitor('reset')).toMatch(/board reset/);
    expect(await c.readRegister('pc')).toBe(sessionImage().entry);
    await expect(c.monitor('no such thing')).rejects.toThrow(/unknown monitor command/);
  });
});

describe('threads and queries', () => {
  it('answers the thread queries gdb makes', async () => {
    expect(await c.request('qC')).toBe('QC1');
    expect(await c.request('qfThreadInfo')).toBe('m1');
    expect(await c.request('qsThreadInfo')).toBe('l');
    expect(await c.request('Hg0')).toBe('OK');
    expect(await c.request('Hc-1')).toBe('OK');
    expect(await c.request('Hg2')).toMatch(/^E/);
    expect(await c.request('T1')).toBe('OK');
    expect(await c.request('T5')).toMatch(/^E/);
    expect(await c.request('qAttached')).toBe('1');
    expect(await c.request('vCont?')).toBe('vCont;c;C;s;S;t');
    expect(await c.request('vMustReplyEmpty')).toBe('');
    expect(await c.readXfer('threads', '')).toMatch(/<thread id="1"/);
    expect(await c.request('qXfer:features:read:nope.xml:0,100')).toMatch(/^E/);
    expect(await c.request('qSymbol::')).toBe('OK');
    expect(await c.request('?')).toMatch(/^T05/);
  });
  it('vCont steps only when the action names our thread', async () => {
    const pc = await c.readRegister('pc');
    expect(await c.request('vCont;s:2')).toBe('E16'); // no thread 2: nothing would run
    expect(await c.readRegister('pc')).toBe(pc);
    expect(await c.request('vCont;s:1;c')).toMatch(/^T05/);
    expect(await c.readRegister('pc')).toBe(pc + 4n);
    expect(await c.request('vCont;x')).toMatch(/^E/);
  });
});

describe('attach, detach and kill', () => {
  it('a detached machine runs on; a new debugger stops it', async () => {
    await c.detach();
    await new Promise((r) => setTimeout(r, 100));
    const ran = hyp.machine.cpu.icount;
    expect(ran).toBeGreaterThan(100);
    c = await RspClient.connect('127.0.0.1', hyp.port);
    expect(await c.request('?')).toMatch(/^T05/);
    const at = hyp.machine.cpu.icount;
    await new Promise((r) => setTimeout(r, 50));
    expect(hyp.machine.cpu.icount).toBe(at); // stopped
  });
  it('k ends the run, as QEMU does', async () => {
    await c.step();
    await c.insertBreakpoint(sym('before_hvc'));
    c.kill();
    expect(await hyp.handle.done).toEqual({ kind: 'killed' });
    expect(hyp.notices).toContain('debugger killed the program');
    expect(hyp.handle.target.running).toBe(false);
  });
  it("detach clears the stub's breakpoints and catches, and a stop raised with nobody attached does not stop", async () => {
    const t = hyp.handle.target;
    t.world = { inGuest: () => false, vmid: () => 0, vcpu: () => null };
    expect(await c.monitor('break host before_hvc')).toMatch(/breakpoint 1/);
    let cleared = 0;
    t.detachHooks.push(() => cleared++);
    await c.detach();
    await waitDetached(hyp);
    expect(t.breakpoints.listOwned()).toEqual([]);
    expect(cleared).toBe(1);
    // An observer's stop (a catch, a hazard) with no debugger: the run goes on.
    let raised = 0;
    hyp.machine.cpu.observer = {
      exceptionTaken: () => {
        raised++;
        t.raiseStop({ signal: 5, message: '[test] exception' });
      },
    };
    await new Promise((r) => setTimeout(r, 100));
    expect(raised).toBeGreaterThan(2);
    expect(t.running).toBe(true);
    hyp.machine.cpu.observer = null;
  });
});

describe('hooks for other layers', () => {
  it('raiseStop from an observer stops after the event, with a console message first', async () => {
    const t = hyp.handle.target;
    hyp.machine.cpu.observer = {
      exceptionTaken: (e) => {
        if (e.toEL === 2) t.raiseStop({ signal: 5, message: `[test] exit to EL2, ESR 0x${e.esr.toString(16)}` });
      },
    };
    const s = await c.cont();
    expect(s.signal).toBe(5);
    expect(c.console).toMatch(/\[test\] exit to EL2, ESR 0x5a000042\n/);
    expect(s.registers.get(32)).toBe(sym('el2_sync_lower')); // at the first instruction of the vector
    hyp.machine.cpu.observer = null;
  });
  it('evaluates a Z0 condition (agent expression) in the emulator', async () => {
    // reg x3; const8 2; equal; end — the bytecode gdb compiles `if $x3 == 2` to.
    const cond = '2600032202' + '1327';
    expect(await c.request(`Z0,${sym('el2_sync_lower').toString(16)},4;X7,${cond}`)).toBe('OK');
    const s = await c.cont();
    expect(s.reason).toBe('swbreak');
    expect(await c.readRegister('x3')).toBe(2n); // two HVCs went by before the third stopped
    expect(c.features.get('ConditionalBreakpoints')).toBe('+');
  });
  it('asks gdb for wanted symbols through qSymbol', async () => {
    const t = hyp.handle.target;
    t.wantSymbol('vcpu_ctxt');
    t.wantSymbol('not_there');
    expect(await c.request('qSymbol::')).toBe(`qSymbol:${Buffer.from('vcpu_ctxt').toString('hex')}`);
    expect(await c.request(`qSymbol:40081000:${Buffer.from('vcpu_ctxt').toString('hex')}`)).toBe(
      `qSymbol:${Buffer.from('not_there').toString('hex')}`,
    );
    expect(await c.request(`qSymbol::${Buffer.from('not_there').toString('hex')}`)).toBe('OK');
    expect(t.symbol('vcpu_ctxt')).toBe(0x4008_1000n);
    expect(t.symbol('counter')).toBe(sym('counter')); // from the ELF when gdb did not say
  });
});
