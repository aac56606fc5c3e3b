// A machine of several PEs: the fixtures of fixtures/smp on QEMU (-smp 4) and on hypstep,
// the scheduler's determinism, WFI/WFE and the idle stop, the global exclusive monitor,
// code invalidation and TLB maintenance seen by every PE, the clock's deadlines, and
// physical interrupts with their routing and the world layer's decoding of the exits.
import { describe, expect, it } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Machine, virtMpidr } from '../../src/board/machine.js';
import { LINE } from '../../src/pe/state.js';
import { parseElf, type Image } from '../../src/loader/elf.js';
import { World } from '../../src/world/world.js';
import { SR } from '../../src/sysregs/registry.js';
import { runQemu } from '../helpers/qemu.js';
import { runHypstep } from '../helpers/hypstep.js';
import { assemble, assembleElf, program } from '../helpers/asm.js';
import { repoRoot, requireTool } from '../helpers/tools.js';

const ROOT = repoRoot();
const FIXTURES = join(ROOT, 'fixtures');
const elf = (name: string) => join(FIXTURES, 'smp', 'build', `${name}.elf`);
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

function hypstep(args: string[]) {
  const r = spawnSync('node', [CLI, ...args], { encoding: 'latin1', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('fixtures/smp: the same transcript on QEMU -smp 4 and on hypstep --smp 4', () => {
  for (const name of ['psci', 'spinlock', 'virq', 'atomics']) {
    it(name, () => {
      const q = runQemu(elf(name), 30_000, ['-smp', '4']);
      expect(q.status).toBe(0);
      const h = runHypstep(elf(name), 50_000_000, { smp: 4 });
      expect(h.stop).toBe('exit');
      expect(h.exitCode).toBe(0);
      expect(h.stdout).toBe(q.stdout);
      expect(h.stdout.length).toBeGreaterThan(0);
    });
  }

  it('the transcripts say what the fixtures test (as QEMU printed them)', () => {
    const psci = runHypstep(elf('psci'), 50_000_000, { smp: 4 }).stdout;
    expect(psci).toContain('version 0000000000010001\n'); // PSCI 1.1
    expect(psci).toContain('cpu_on 0 fffffffffffffffc\n'); // ALREADY_ON
    expect(psci).toContain('cpu_on 0x100 fffffffffffffffe\n'); // INVALID_PARAMETERS
    for (const i of [1, 2, 3]) expect(psci).toContain(`mpidr ${virtMpidr(i).toString(16).padStart(16, '0')}\n`);
    expect(psci).toContain('pe 1 off again\n');
    const lock = runHypstep(elf('spinlock'), 50_000_000, { smp: 4 }).stdout;
    expect(lock).toBe('counter 00000000000007d0\nmost PEs inside at once 0000000000000001\n');
    const atomics = runHypstep(elf('atomics'), 50_000_000, { smp: 4 }).stdout;
    expect(atomics).toBe(
      'ldaddal counter 0000000000009c40\ncas-locked counter 0000000000009c40\nmost PEs inside at once 0000000000000001\n',
    );
  });

  it('the LSE counters hold at every quantum, and the CAS lock is contended (PEs wait for it)', () => {
    const image = parseElf(readFileSync(elf('atomics')));
    const contended = image.symbols.find((s) => s.name === 'contended')!.value;
    for (const quantum of [1, 13, 100_000]) {
      let out = '';
      const m = new Machine({ smp: 4, quantum, uartOut: (b) => (out += Buffer.from(b).toString('latin1')) });
      m.load(image);
      expect(m.run(100_000_000).kind).toBe('exit');
      expect({ quantum, out }).toEqual({
        quantum,
        out: 'ldaddal counter 0000000000009c40\ncas-locked counter 0000000000009c40\nmost PEs inside at once 0000000000000001\n',
      });
      expect(m.bus.read(Number(contended), 8)).toBeGreaterThan(100n);
    }
  });

  it('the spinlock holds at every quantum (turns ending between any two instructions)', () => {
    const want = runHypstep(elf('spinlock'), 50_000_000, { smp: 4 }).stdout;
    for (const quantum of [1, 2, 3, 5, 7, 13, 64, 100_000]) {
      const h = runHypstep(elf('spinlock'), 50_000_000, { smp: 4, quantum });
      expect({ quantum, out: h.stdout }).toEqual({ quantum, out: want });
    }
  });

  it('the same fixtures run with 2 and 8 PEs where they need only 4', () => {
    const want = runQemu(elf('virq'), 30_000).stdout;
    for (const smp of [1, 2, 8]) expect(runHypstep(elf('virq'), 50_000_000, { smp }).stdout).toBe(want);
    const q = runQemu(elf('psci'), 30_000, ['-smp', '8']);
    expect(runHypstep(elf('psci'), 50_000_000, { smp: 8 }).stdout).toBe(q.stdout);
  });

  it('rebuild byte for byte from a copy of the sources at another absolute path', async () => {
    requireTool('make');
    const copy = mkdtempSync(join(tmpdir(), 'hypstep-smp-fixtures-'));
    try {
      for (const f of ['common.mk', 'programs.mk', 'include'])
        cpSync(join(FIXTURES, f), join(copy, f), { recursive: true });
      cpSync(join(FIXTURES, 'smp'), join(copy, 'smp'), {
        recursive: true,
        filter: (src) => !src.includes('/build'),
      });
      await promisify(execFile)('make', ['-C', join(copy, 'smp')]);
      for (const name of ['psci', 'spinlock', 'virq', 'atomics', 'monitor'])
        expect(readFileSync(join(copy, 'smp', 'build', `${name}.elf`)).equals(readFileSync(elf(name)))).toBe(true);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe('the scheduler', () => {
  it('two runs with the same options give byte-identical --trace exceptions on 4 PEs', () => {
    const a = hypstep(['run', '-smp', '4', '--trace', 'exceptions', elf('spinlock')]);
    const b = hypstep(['run', '-smp', '4', '--trace', 'exceptions', elf('spinlock')]);
    expect(a.status).toBe(0);
    expect(b.stderr).toBe(a.stderr);
    const lines = a.stderr.trim().split('\n');
    expect(lines.length).toBe(4 * 500 * 2); // each PE's HVC and ERET per iteration
    // The PEs interleave (the lock passes from PE to PE), and each line names its PE.
    const order = lines.map((l) => /\] (PE\d) /.exec(l)![1]);
    expect(new Set(order)).toEqual(new Set(['PE0', 'PE1', 'PE2', 'PE3']));
    expect(order.filter((p, i) => i > 0 && p !== order[i - 1]).length).toBeGreaterThan(100);
  });

  it('a run sliced differently (as a debugger slices it) interleaves the same', () => {
    const image = parseElf(readFileSync(elf('spinlock')));
    const trace = (slices: () => number): string[] => {
      const m = new Machine({ smp: 4, uartOut: () => {} });
      m.load(image);
      const seen: string[] = [];
      m.pes.forEach((pe, i) => {
        pe.observer = { exceptionTaken: (e) => seen.push(`${m.icount} PE${i} ${e.elr}`) };
      });
      for (let r = m.run(slices()); r.kind === 'budget'; r = m.run(slices()));
      return seen;
    };
    let n = 0;
    const whole = trace(() => 1e9);
    expect(trace(() => 1 + ((n = (n * 1103515245 + 12345) >>> 0) % 997))).toEqual(whole);
  });

  it('-smp is checked: 1 to 8, with one line and status 2 otherwise', () => {
    for (const bad of ['0', '9', 'x']) {
      const r = hypstep(['run', '-smp', bad, elf('psci')]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^hypstep: .*(PEs|number of PEs).*\n$/);
    }
    expect(hypstep(['run', '--quantum', '0', elf('psci')]).status).toBe(2);
  });
});

/** A machine of `smp` PEs running `body` (at _start, PE 0) to its `__end` label on PE 0. */
function machine(body: string, smp = 1): { m: Machine; image: Image; sym: (name: string) => bigint } {
  const image = assemble(program(`${body}\n__end:\n\tb __end\n`));
  const m = new Machine({ smp, memory: 64 << 20, uartOut: () => {} });
  m.load(image);
  const sym = (name: string) => image.symbols.find((s) => s.name === name)!.value;
  return { m, image, sym };
}

describe('WFI, WFE and the idle stop', () => {
  it('a WFI with nothing to wake the only PE stops the machine, saying so', () => {
    const { m } = machine('\twfi');
    const r = m.run(1000);
    expect(r.kind).toBe('idle');
    expect(r.kind === 'idle' && r.message).toMatch(/every PE is asleep .*PE0 in WFI at 0x40080000/);
  });

  it('the CLI reports the idle stop in one line with status 5', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hypstep-idle-'));
    try {
      const path = join(dir, 'wfi.elf');
      writeFileSync(path, assembleElf(program('\twfi')));
      const r = hypstep(['run', '-smp', '2', path]);
      expect(r.status).toBe(5);
      expect(r.stderr).toMatch(
        /^hypstep: stopped after 1 instructions: every PE is asleep and nothing can wake one .*PE0 in WFI at 0x40080000, PE1 off\n$/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('WFE sleeps until another PE sends an event; an event already pending is consumed at once', () => {
    // PE 0 starts PE 1, which sets a flag and SEVs; PE 0 waits on WFE for the flag.
    const { m, sym } = machine(
      `
	movq	x0, 0xc4000003
	mov	x1, #1
	adr	x2, pe1
	smc	#0
1:	ldr	x3, flag
	cbnz	x3, 2f
	wfe
	b	1b
2:	sevl
	wfe				// the pending event: no wait
	b	__end
pe1:	mov	x4, #1
	adr	x5, flag
	str	x4, [x5]
	sev
	wfi				// PE 1 sleeps for good
	.balign 8
flag:	.quad 0
`,
      2,
    );
    m.cpu.debug.breakpoints.add(sym('__end'));
    expect(m.run(10_000)).toEqual({ kind: 'breakpoint', pc: sym('__end') });
    expect(m.pes[1]!.waiting).not.toBe(0);
  });
});

describe('memory between PEs', () => {
  /**
   * PE 0: LDXR, a DMB (its turn ends: PE 1 runs), then STXR; PE 1 stores 9 at `offset` from the
   * reserved word, with `store` (x0 the address, x1 = 9, x2 = 5).
   */
  const exclusive = (offset: number, store = 'str x1, [x0]') =>
    machine(
      `
	.arch	armv8.1-a
	movq	x0, 0xc4000003
	mov	x1, #1
	adr	x2, pe1
	smc	#0
	adr	x0, word
	ldxr	x1, [x0]
	dmb	ish
	mov	x1, #7
	stxr	w2, x1, [x0]
	wfe				// sleeps unless the lost reservation was an event
	b	__end
pe1:	adr	x0, word
	add	x0, x0, #${offset}
	mov	x1, #9
	mov	x2, #5
	${store}
	wfi
	.balign 128
word:	.quad 0
	.space 120
`,
      2,
    );

  it('a store by another PE to the reservation granule makes STXR fail and is an event for the waiter', () => {
    const { m, sym } = exclusive(8);
    m.cpu.debug.breakpoints.add(sym('__end'));
    expect(m.run(10_000)).toEqual({ kind: 'breakpoint', pc: sym('__end') });
    expect(m.cpu.x[2]).toBe(1n); // STXR failed
  });

  it('a store outside the 64-byte granule (CTR_EL0.ERG) leaves the reservation: STXR succeeds', () => {
    const { m } = exclusive(64);
    const r = m.run(10_000);
    // No event arrived, so the second WFE sleeps with PE 1 asleep too: the machine is idle.
    expect(r.kind).toBe('idle');
    expect(m.cpu.x[2]).toBe(0n);
  });

  // An atomic is a store for the monitors (AArch64.TranslateAddressForAtomicAccess clears the other
  // PEs' reservations of the location), whether or not it writes: a CAS that fails its compare too.
  for (const store of [
    'stadd x1, [x0]',
    'ldaddal x1, x3, [x0]',
    'swpb w1, w3, [x0]',
    'cas x2, x1, [x0]',
    'casp w2, w3, w4, w5, [x0]',
  ])
    it(`an atomic (${store}) by another PE to the reservation granule makes STXR fail and is an event for the waiter`, () => {
      const { m, sym } = exclusive(8, store);
      m.cpu.debug.breakpoints.add(sym('__end'));
      expect(m.run(10_000)).toEqual({ kind: 'breakpoint', pc: sym('__end') });
      expect(m.cpu.x[2]).toBe(1n);
      expect(m.pes[1]!.pcs[1]).toBe(sym('pe1') + 20n); // PE 1 did run its atomic and reached its WFI
    });

  it('an atomic outside the 64-byte granule leaves the reservation: STXR succeeds', () => {
    const { m } = exclusive(64, 'ldaddal x1, x3, [x0]');
    expect(m.run(10_000).kind).toBe('idle');
    expect(m.cpu.x[2]).toBe(0n);
    expect(m.pes[1]!.x[3]).toBe(0n); // the old value, and the add happened
    expect(m.bus.read(Number(m.pes[1]!.x[0]), 8)).toBe(9n);
  });

  it('code one PE rewrites is seen by another that had executed (and cached) it', () => {
    const { m, sym } = machine(
      `
	movq	x0, 0xc4000003
	mov	x1, #1
	adr	x2, pe1
	smc	#0
1:	ldr	x3, ran
	cbz	x3, 1b			// PE 1 has run f once
	adr	x4, f
	ldr	w5, newinsn
	str	w5, [x4]		// f: mov x0, #2
	mov	x3, #0
	adr	x9, ran
	str	x3, [x9]
	mov	x6, #1
	adr	x9, go
	str	x6, [x9]
2:	ldr	x3, ran
	cbz	x3, 2b
	b	__end
pe1:	bl	f
	mov	x7, x0
	mov	x3, #1
	adr	x9, ran
	str	x3, [x9]
3:	ldr	x3, go
	cbz	x3, 3b
	bl	f
	mov	x8, x0
	mov	x3, #1
	adr	x9, ran
	str	x3, [x9]
	wfi
f:	mov	x0, #1
	ret
newinsn: mov	x0, #2
	.balign 8
ran:	.quad 0
go:	.quad 0
`,
      2,
    );
    m.cpu.debug.breakpoints.add(sym('__end'));
    expect(m.run(100_000)).toEqual({ kind: 'breakpoint', pc: sym('__end') });
    expect([m.pes[1]!.x[7], m.pes[1]!.x[8]]).toEqual([1n, 2n]);
  });

  // EL2 stage 1 on both PEs: GB 1 identity (code, data), VA 0x8000_0000 through a level-2
  // table whose first 2 MB block PE 0 moves from page A to page B. PE 1 reads the VA before
  // and after; the TLBI is the only thing telling its TLB.
  const tlbi = (op: string) =>
    machine(
      `
	.equ TCR, (1 << 23) | (32 << 0) | (1 << 8) | (1 << 10) | (3 << 12)	// RES1, T0SZ 32, WB WA walks
	adr	x0, l1
	movq	x1, 0x40000000 | 0x701		// GB 1: normal memory (AttrIndx 0), AF, inner shareable
	str	x1, [x0, #8]
	adr	x1, l2
	orr	x1, x1, #3
	str	x1, [x0, #16]			// GB 2: the level-2 table
	adr	x0, l2
	movq	x1, 0x41000000 | 0x701		// block 0 -> page A
	str	x1, [x0]
	movq	x1, 0x41000000
	movq	x2, 0xaaaa
	str	x2, [x1]
	movq	x1, 0x41200000
	movq	x2, 0xbbbb
	str	x2, [x1]
	movq	x0, 0xc4000003
	mov	x1, #1
	adr	x2, pe1
	smc	#0
	bl	mmu_on
1:	ldr	x3, step
	cmp	x3, #1
	b.ne	1b			// PE 1 has read through the old mapping
	adr	x0, l2
	movq	x1, 0x41200000 | 0x701		// block 0 -> page B
	str	x1, [x0]
	dsb	ish
	movq	x5, 0x80010			// VA 0x8001_0000: another page of the block
	tlbi	${op}
	dsb	ish
	mov	x3, #2
	adr	x9, step
	str	x3, [x9]
2:	ldr	x3, step
	cmp	x3, #3
	b.ne	2b
	b	__end
pe1:	bl	mmu_on
	movq	x1, 0x80000000
	ldr	x7, [x1]
	mov	x3, #1
	adr	x9, step
	str	x3, [x9]
3:	ldr	x3, step
	cmp	x3, #2
	b.ne	3b
	ldr	x8, [x1]
	mov	x3, #3
	adr	x9, step
	str	x3, [x9]
	wfi
mmu_on:	adr	x0, l1
	msr	ttbr0_el2, x0
	movq	x0, TCR
	msr	tcr_el2, x0
	movq	x0, 0xff
	msr	mair_el2, x0
	isb
	mrs	x0, sctlr_el2
	orr	x0, x0, #1
	msr	sctlr_el2, x0
	isb
	ret
	.balign 8
step:	.quad 0
	.balign 4096
l1:	.space 4096
l2:	.space 4096
`,
      2,
    );

  it('TLBI of the Inner Shareable domain (ALLE2IS) reaches the other PE: it reads through the new mapping', () => {
    const { m, sym } = tlbi('alle2is');
    m.cpu.debug.breakpoints.add(sym('__end'));
    expect(m.run(100_000)).toEqual({ kind: 'breakpoint', pc: sym('__end') });
    expect([m.pes[1]!.x[7], m.pes[1]!.x[8]]).toEqual([0xaaaan, 0xbbbbn]);
  });

  it('TLBI by VA (VAE2IS) of another page of the block reaches the other PE: it drops the whole block', () => {
    const { m, sym } = tlbi('vae2is, x5');
    m.cpu.debug.breakpoints.add(sym('__end'));
    expect(m.run(100_000)).toEqual({ kind: 'breakpoint', pc: sym('__end') });
    expect([m.pes[1]!.x[7], m.pes[1]!.x[8]]).toEqual([0xaaaan, 0xbbbbn]);
  });

  it('a local TLBI (ALLE2) leaves the other PE its cached translation', () => {
    const { m, sym } = tlbi('alle2');
    m.cpu.debug.breakpoints.add(sym('__end'));
    expect(m.run(100_000)).toEqual({ kind: 'breakpoint', pc: sym('__end') });
    expect([m.pes[1]!.x[7], m.pes[1]!.x[8]]).toEqual([0xaaaan, 0xaaaan]);
  });
});

describe('interrupts and time', () => {
  // EL2 vectors: current EL SPx IRQ (0x280) records the count and the EL; any other entry stops.
  const VECTORS = `
	.balign 0x800
vectors:
	.rept 5
	b	.
	.balign 0x80
	.endr
	mrs	x20, cntpct_el0		// IRQ, current EL with SPx
	mov	x21, #1
	b	__end
	.balign 0x80
	.rept 10
	b	.
	.balign 0x80
	.endr
`;

  it('a WFI at EL2 with IRQs masked sleeps until a deadline raises the line; time jumps to it', () => {
    const { m, sym } = machine(
      `
	movz	x0, #0x8000, lsl #16	// HCR_EL2.RW and IMO: an IRQ is taken at EL2 only when routed there
	movk	x0, #0x10
	msr	hcr_el2, x0
	adr	x0, vectors
	msr	vbar_el2, x0
	mrs	x10, cntpct_el0
	wfi				// woken by the masked IRQ: not taken
	mrs	x11, cntpct_el0
	msr	daifclr, #2		// now it is taken
	b	.
${VECTORS}`,
    );
    m.cpu.debug.breakpoints.add(sym('__end'));
    const at = m.now + 1_000_000;
    m.clock.at(at, () => m.cpu.setLine(LINE.IRQ, true));
    expect(m.run(10_000)).toEqual({ kind: 'breakpoint', pc: sym('__end') });
    expect(m.cpu.x[10]).toBeLessThan(100n);
    expect(m.cpu.x[11]).toBeGreaterThanOrEqual(BigInt(at)); // the counter jumped to the deadline
    expect(m.cpu.x[11]).toBeLessThan(BigInt(at) + 10n);
    expect(m.cpu.x[21]).toBe(1n);
  });

  it('a run never overshoots a deadline: the device sees exactly its time', () => {
    const { m } = machine('1:\tadd x0, x0, #1\n\tb 1b');
    let seen = -1;
    m.clock.at(12_345, () => (seen = m.now));
    m.run(100_000);
    expect(seen).toBe(12_345);
  });

  /** virq.elf until the guest runs, then a physical input raised: the world layer sees the exit. */
  function physicalExit(line: number, offset: number): { world: World; m: Machine; vector: bigint } {
    const image = parseElf(readFileSync(elf('virq')));
    const m = new Machine({ uartOut: () => {} });
    m.load(image);
    const world = new World(m.pes).attach();
    const guest = image.symbols.find((s) => s.name === 'guest')!.value;
    const vector = image.symbols.find((s) => s.name === 'host_vectors')!.value + BigInt(offset);
    m.cpu.debug.breakpoints.add(guest);
    expect(m.run(100_000)).toEqual({ kind: 'breakpoint', pc: guest });
    m.cpu.debug.breakpoints.add(vector);
    m.cpu.setLine(line, true);
    expect(m.run(100)).toEqual({ kind: 'breakpoint', pc: vector });
    return { world, m, vector };
  }

  // The guest runs at EL1 with DAIF masked: routed to EL2 by IMO/FMO/AMO, they are taken anyway.
  for (const [line, category, offset] of [
    [LINE.IRQ, 'irq', 0x480],
    [LINE.FIQ, 'fiq', 0x500],
    [LINE.SERROR, 'serror', 0x580],
  ] as const) {
    it(`a physical ${category} in the guest exits to EL2 (lower-EL vector 0x${offset.toString(16)}); the world layer decodes it`, () => {
      const { world, m } = physicalExit(line, offset);
      expect(m.cpu.ps.el).toBe(2);
      const exit = world.lastExit!;
      expect(exit.reason.category).toBe(category);
      expect(exit.vmid).toBe(1);
    });
  }

  it('a physical IRQ at EL2 waits for PSTATE.I, then is taken at the current-EL vector', () => {
    const { m, sym } = machine(
      `
	movz	x0, #0x8000, lsl #16	// HCR_EL2.RW and IMO: an IRQ is taken at EL2 only when routed there
	movk	x0, #0x10
	msr	hcr_el2, x0
	adr	x0, vectors
	msr	vbar_el2, x0
	mov	x1, #1
	mov	x1, #2
	msr	daifclr, #2
	mov	x1, #3
	b	.
${VECTORS}`,
    );
    m.cpu.setLine(LINE.IRQ, true);
    m.cpu.debug.breakpoints.add(sym('__end'));
    expect(m.run(100)).toEqual({ kind: 'breakpoint', pc: sym('__end') });
    expect(m.cpu.x[1]).toBe(2n); // taken right after the MSR that unmasked it
    expect(m.cpu.sr[SR.ELR_EL2!]).toBe(sym('_start') + 32n); // the preferred return: the next instruction
  });
});
