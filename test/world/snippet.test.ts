// The world layer on real instructions: a tiny hypervisor snippet (assembled with the GNU
// assembler) enters a guest through a stage-2 identity map; the guest makes a hypercall,
// a trapped MSR, an MMIO store to an unmapped IPA and a final HVC.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/board/machine.js';
import { assemble } from '../helpers/asm.js';
import { World } from '../../src/world/world.js';
import { timelineLine } from '../../src/world/format.js';
import { stage2Setup, vcpuLoad, vcpuWorld, S2_TABLE, VCPU } from './snippets.js';

// Stage 2 as stage2Setup makes it (IPA 1G..2G mapped; IPA 0..1G, where the MMIO hole is, unmapped),
// VMID 5, HCR_EL2 = VM | TWI | TVM | RW.
const HYP = `
${stage2Setup('((1 << 0) | (1 << 13) | (1 << 26) | (1 << 31))', 5)}
	adr	x0, guest
	msr	elr_el2, x0
	mov	x0, #0x3c5
	msr	spsr_el2, x0
	ldr	x3, =0x30d00801
enter:
	eret

guest:
	hvc	#0x42
guest_msr:
	msr	sctlr_el1, x3
	mov	x5, #0x0a000000
guest_mmio:
	str	w5, [x5, #8]
	hvc	#1

	.balign 2048
vectors:
	.skip	0x400
	mrs	x9, esr_el2
	lsr	x10, x9, #26
	cmp	x10, #0x16
	b.ne	1f
	and	x9, x9, #0xffff
	cmp	x9, #1
	b.eq	__end
	eret
1:	mrs	x9, elr_el2
	add	x9, x9, #4
	msr	elr_el2, x9
	eret

${S2_TABLE}
`;

function build(source: string): { m: Machine; end: bigint; sym: (n: string) => bigint } {
  const image = assemble(`.text\n.global _start\n_start:\n${source}\n__end:\n\tb __end\n`);
  const m = new Machine({ memory: 64 * 1024 * 1024, uartOut: () => {} });
  m.load(image);
  const sym = (n: string) => image.symbols.find((s) => s.name === n)!.value;
  return { m, end: sym('__end'), sym };
}

function runToEnd(m: Machine, end: bigint): void {
  m.cpu.debug.breakpoints.add(end);
  for (let i = 0; i < 100; i++) {
    const r = m.run(1_000_000);
    if (r.kind === 'breakpoint' && r.pc === end) return;
    if (r.kind !== 'requested')
      throw new Error(
        `snippet stopped: ${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v))}`,
      );
  }
  throw new Error('snippet did not reach __end');
}

describe('world layer on a hypervisor snippet', () => {
  it('detects each entry and exit and decodes every exit', () => {
    const { m, end, sym } = build(HYP);
    const w = new World(m.pes).attach();
    const lines: string[] = [];
    w.on((e) => lines.push(timelineLine(e)));
    runToEnd(m, end);
    expect(w.recent.exits.toArray().map((x) => [x.reason.text, x.pc, x.vmid])).toEqual([
      ['HVC #0x42', sym('guest'), 5],
      ['trapped MSR SCTLR_EL1, x3', sym('guest_msr'), 5],
      ['data abort at IPA 0xa000008 (write, 4 bytes, w5)', sym('guest_mmio'), 5],
      ['HVC #0x1', sym('guest_mmio') + 4n, 5],
    ]);
    expect(w.entries).toBe(4);
    expect(w.lastEntry!.eretPc).toBeGreaterThan(sym('vectors'));
    // Closed windows: the handler's instructions, all at EL2, and its MRS/MSR.
    const first = w.recent.exits.toArray()[0]!;
    expect(first.el2Insns).toBe(first.hostInsns);
    expect(first.el2Insns).toBe(8); // mrs, lsr, cmp, b.ne, and, cmp, b.eq, eret (the HVC is the guest's)
    expect(first.sysregs).toEqual({ ESR_EL2: 1 });
    expect(w.recent.exits.toArray()[1]!.sysregs).toEqual({ ESR_EL2: 1, ELR_EL2: 2 });
    expect(lines[0]).toMatch(/^\[\d+\] PE0: entry vmid 5 at 0x/);
    expect(lines[1]).toMatch(/^\[\d+\] PE0: exit #1 vmid 5: HVC #0x42 at 0x/);
  });

  it('with a layout: load/put from flag stores, and a stale read caught at its load instruction', () => {
    // The "hypervisor" keeps SCTLR_EL1 in vcpu+0 and a loaded flag in vcpu+8. It loads the
    // register, sets the flag, enters; the guest changes SCTLR_EL1 (not trapped: TVM is off);
    // at the exit the handler wrongly reads the context slot, then saves and clears the flag.
    const src = `
${stage2Setup('((1 << 0) | (1 << 31))')}
${vcpuLoad('load_flag')}
	adr	x0, guest
	msr	elr_el2, x0
	mov	x0, #0x3c5
	msr	spsr_el2, x0
	eret
guest:
	ldr	x3, =0x30d00805
	msr	sctlr_el1, x3
	hvc	#0
	.balign 2048
vectors:
	.skip	0x400
stale:
	ldr	x4, [x20]
	mrs	x1, sctlr_el1
	str	x1, [x20]
put_flag:
	str	xzr, [x20, #8]
	b	__end
${VCPU}
${S2_TABLE}
`;
    const { m, end, sym } = build(src);
    const w = vcpuWorld(m);
    const stops: string[] = [];
    w.stop = (msg) => {
      stops.push(msg);
      m.cpu.requestStop({ kind: 'requested', why: msg });
    };
    runToEnd(m, end);
    expect(w.recent.loadPut.toArray().map((r) => [r.type, r.pc])).toEqual([
      ['load', sym('load_flag')],
      ['put', sym('put_flag')],
    ]);
    expect(w.recent.hazards.toArray().map((h) => [h.kind, h.reg, h.pc, h.memory, h.cpu])).toEqual([
      ['stale-read', 'SCTLR_EL1', sym('stale'), 0x30d00800n, 0x30d00805n],
    ]);
    expect(stops).toHaveLength(1);
    // The save in the handler writes the CPU's value: not a lost write.
    expect(w.residency(w.vcpus[0]!)[0]).toMatchObject({ authority: 'memory', verdict: 'in sync' });
  });
});
