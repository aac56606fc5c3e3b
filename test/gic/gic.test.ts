// The GIC CPU interface registers a machine adds (encodings against the GNU assembler), the
// ICH_HCR_EL2 and HCR_EL2 traps, the virtual CPU interface seen through ICV_*, the EL2
// virtual timer's PPI 28, the PL011's SPI 33, and what an idle PE in WFI costs.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine } from '../../src/board/machine.js';
import { GIC, INTID } from '../../src/board/gic.js';
import { VIRT } from '../../src/board/machine.js';
import type { ExceptionTaken } from '../../src/cpu/events.js';
import { readSysreg, sysTrapIss, writeSysreg } from '../../src/sysregs/access.js';
import { HCR } from '../../src/sysregs/registry.js';
import { parseElf } from '../../src/loader/elf.js';
import { assemble, encode } from '../helpers/asm.js';
import { repoRoot } from '../helpers/tools.js';

const CODE = 0x4008_0000;
const bit = (n: number) => 1n << BigInt(n);

function machine(smp = 1): Machine {
  const m = new Machine({ smp, memory: 16 << 20, uartOut: () => {}, consoleOut: () => {} });
  m.reset();
  return m;
}

const reg = (m: Machine, name: string) => m.sysregs.byName(name)!;
const get = (m: Machine, name: string, pe = 0) => readSysreg(m.pes[pe]!, reg(m, name));
const set = (m: Machine, name: string, v: bigint, pe = 0) => writeSysreg(m.pes[pe]!, reg(m, name), v);

/** Runs one instruction on PE 0 at `el`; returns the exception it took, if any. */
function step(m: Machine, insn: string, el: number, x: Record<number, bigint> = {}): ExceptionTaken | undefined {
  const cpu = m.cpu;
  const [w] = encode([insn]);
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, w!, true);
  m.bus.poke(CODE, bytes);
  for (const [n, v] of Object.entries(x)) cpu.x[Number(n)] = v;
  cpu.ps.el = el;
  cpu.ps.daif = 0xf;
  cpu.pcs[0] = BigInt(CODE);
  let taken: ExceptionTaken | undefined;
  cpu.observer = { exceptionTaken: (e) => (taken = e) };
  cpu.step();
  cpu.observer = null;
  return taken;
}

describe('the GIC CPU interface registers', () => {
  it('have the encodings the assembler gives their names', () => {
    const regs = machine().sysregs.deviceRegisters;
    expect(regs.map((s) => s.name)).toEqual(expect.arrayContaining(['ICC_IAR1_EL1', 'ICH_LR3_EL2', 'ICH_VTR_EL2']));
    const lines = regs.map((s) => (s.access === 'wo' ? `msr ${s.name}, x0` : `mrs x0, ${s.name}`));
    const img = assemble(`.arch armv8.1-a\n.text\n.global _start\n_start:\n${lines.join('\n')}\n`);
    const seg = img.segments.find((g) => g.vaddr <= img.entry && img.entry < g.vaddr + BigInt(g.data.length))!;
    const text = Buffer.from(seg.data).subarray(Number(img.entry - seg.vaddr));
    expect(regs.map((s, i) => `${s.name} ${((text.readUInt32LE(i * 4) >>> 5) & 0xffff).toString(16)}`)).toEqual(
      regs.map((s) => `${s.name} ${s.key.toString(16)}`),
    );
  });

  it('ID_AA64PFR0_EL1.GIC is 1: the system-register interface is there', () => {
    expect((get(machine(), 'ID_AA64PFR0_EL1') >> 24n) & 0xfn).toBe(1n);
  });

  it('ICH_HCR_EL2.TALL1, TALL0, TC and TDIR trap EL1 accesses to EL2 with the MSR/MRS syndrome', () => {
    const cases: [string, bigint, string, number, boolean][] = [
      ['TALL1', 1n << 12n, 'mrs x3, icc_iar1_el1', 3, true],
      ['TALL0', 1n << 11n, 'mrs x3, icc_iar0_el1', 3, true],
      ['TC', 1n << 10n, 'msr icc_pmr_el1, x4', 4, false],
      ['TDIR', 1n << 14n, 'msr icc_dir_el1, x4', 4, false],
    ];
    for (const [what, hcrBit, insn, rt, read] of cases) {
      const m = machine();
      set(m, 'HCR_EL2', bit(HCR.RW) | bit(HCR.IMO) | bit(HCR.FMO));
      expect(step(m, insn, 1), `${what} clear`).toBeUndefined();
      set(m, 'ICH_HCR_EL2', hcrBit);
      const e = step(m, insn, 1);
      const s = reg(m, /icc_\w+/.exec(insn)![0].toUpperCase());
      expect(e, what).toMatchObject({
        fromEL: 1,
        toEL: 2,
        esr: ((0x18 << 26) | (1 << 25) | sysTrapIss(s, rt, read)) >>> 0,
      });
    }
  });

  it('an EL1 write to ICC_SGI1R_EL1 traps to EL2 under HCR_EL2.IMO, and sends the SGI without it', () => {
    const m = machine(2);
    m.bus.write(GIC.REDIST_BASE + GIC.REDIST_STRIDE + 0x1_0080, 4, 0xffff_ffffn); // PE 1's SGIs in Group 1
    set(m, 'HCR_EL2', bit(HCR.RW) | bit(HCR.IMO));
    expect(step(m, 'msr icc_sgi1r_el1, x1', 1, { 1: (3n << 24n) | 2n })).toMatchObject({ toEL: 2 });
    set(m, 'HCR_EL2', bit(HCR.RW));
    expect(step(m, 'msr icc_sgi1r_el1, x1', 1, { 1: (3n << 24n) | 2n })).toBeUndefined();
    expect(m.gic.interrupts(1).find((i) => i.intid === 3)).toMatchObject({ pending: true, source: 'SGI from PE0' });
  });

  it('at EL1 under HCR_EL2.IMO the ICC_* encodings reach the virtual interface: a list register acknowledged and ended', () => {
    const m = machine();
    set(m, 'HCR_EL2', bit(HCR.RW) | bit(HCR.IMO) | bit(HCR.FMO));
    set(m, 'ICH_HCR_EL2', 1n); // En
    set(m, 'ICH_VMCR_EL2', (0xf0n << 24n) | 2n); // VPMR 0xf0, VENG1
    // Pending, Group 1, priority 0x80, EOI maintenance, vINTID 40.
    set(m, 'ICH_LR0_EL2', (1n << 62n) | (1n << 60n) | (0x80n << 48n) | (1n << 41n) | 40n);
    expect(m.cpu.lines & 8).toBe(8); // the virtual IRQ
    expect(step(m, 'mrs x0, icc_iar1_el1', 1)).toBeUndefined();
    expect(m.cpu.x[0]).toBe(40n);
    expect(get(m, 'ICH_LR0_EL2') >> 62n).toBe(2n); // active
    expect(step(m, 'mrs x0, icc_rpr_el1', 1)).toBeUndefined();
    expect(m.cpu.x[0]).toBe(0x80n);
    m.cpu.ps.el = 2;
    expect(get(m, 'ICC_RPR_EL1')).toBe(0xffn); // the physical interface, as EL2 sees it, runs nothing
    expect(step(m, 'msr icc_eoir1_el1, x0', 1, { 0: 40n })).toBeUndefined();
    expect(get(m, 'ICH_LR0_EL2') >> 62n).toBe(0n);
    expect(get(m, 'ICH_EISR_EL2')).toBe(1n);
    expect(get(m, 'ICH_MISR_EL2')).toBe(1n); // EOI
    expect(m.gic.interrupts(0).find((i) => i.intid === INTID.MAINTENANCE)?.pending).toBe(true);
    set(m, 'ICH_LR0_EL2', 0n);
    expect(get(m, 'ICH_MISR_EL2')).toBe(0n);
    expect(get(m, 'ICH_ELRSR_EL2')).toBe(0xfn);
  });
});

describe('interrupt sources', () => {
  it('the EL2 virtual timer drives PPI 28 (QEMU 9 wires it so; 7.2 leaves it unconnected)', () => {
    const m = machine();
    set(m, 'HCR_EL2', bit(HCR.RW) | bit(HCR.E2H) | bit(HCR.TGE));
    set(m, 'CNTHV_CVAL_EL2', 0n);
    set(m, 'CNTHV_CTL_EL2', 1n);
    expect(m.gic.interrupts(0).find((i) => i.intid === INTID.HYP_VIRT_TIMER)).toMatchObject({
      pending: true,
      source: 'EL2 virtual timer',
    });
    set(m, 'CNTHV_CTL_EL2', 3n); // IMASK
    expect(m.gic.interrupts(0).find((i) => i.intid === INTID.HYP_VIRT_TIMER)).toBeUndefined();
  });

  it('the PL011 raises SPI 33 while received data waits with RXIM set', () => {
    const m = machine();
    m.bus.write(VIRT.UART_BASE + 0x38, 4, 1n << 4n); // UARTIMSC.RXIM
    m.uart.receive(new TextEncoder().encode('a'));
    expect(m.bus.read(GIC.DIST_BASE + 0x204, 4) & 2n).toBe(2n); // GICD_ISPENDR1 bit 1: INTID 33
    expect(m.bus.read(VIRT.UART_BASE, 4)).toBe(0x61n);
    expect(m.bus.read(GIC.DIST_BASE + 0x204, 4) & 2n).toBe(0n);
  });
});

describe('time', () => {
  const runTo = (name: string) => {
    const m = new Machine({ uartOut: () => {}, consoleOut: () => {} });
    m.load(parseElf(readFileSync(join(repoRoot(), 'fixtures', 'gic', 'build', `${name}.elf`))));
    // One long slice: a deadline the running PE arms inside it must still end it on time.
    expect(m.run(100_000_000).kind).toBe('exit');
    return m;
  };

  it('a PE waiting in WFI for its timer costs no instructions: time jumps to each deadline', () => {
    const idle = runTo('idle');
    const busy = runTo('idle-busy');
    // 100 ticks of 62,500: the same time went by in both runs.
    for (const m of [idle, busy]) expect(m.now).toBeGreaterThanOrEqual(100 * 62_500);
    expect(busy.icount).toBeLessThan(100 * 62_500 + 1000); // the busy run stopped at its last tick
    expect(idle.icount).toBeLessThan(busy.icount / 100);
  });
});
