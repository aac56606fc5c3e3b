// List registers bounded by a count in memory, as KVM keeps them (vgic_v3.vgic_lr[] and used_lrs):
// a hypervisor snippet (GNU as) fills the copies, sets the count, restores the first `used` list
// registers, enters a guest that acknowledges (and completes) a virtual interrupt through the
// virtual CPU interface, and on the exit saves them as KVM's __vgic_v3_save_state does (a free
// register, by ICH_ELRSR_EL2, by clearing its copy's State; another by reading it), zeroes them and
// sets the count to 0. Only the slots below the count are checked or shown as the vcpu's.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/board/machine.js';
import { decodeLr } from '../../src/board/gic-virtual.js';
import { assemble } from '../helpers/asm.js';
import { World, type ResidencyRow } from '../../src/world/world.js';
import { parseLayout, bindLayout } from '../../src/world/layout.js';
import { residencyTable } from '../../src/world/format.js';
import { enterGuest, stage2Setup, S2_TABLE } from './snippets.js';

/** vINTID 27, group 1, priority 0xa0, pending (the virtual timer's, as vgic_v3_populate_lr writes it). */
const LR0 = 0x50a0_0000_0000_001bn;

const LAYOUT = {
  format: 'hypstep-vcpu-layout',
  version: 1,
  vcpus: [{ name: 'vcpu0', symbol: 'vcpu' }],
  arrays: { vgic_lr: { offset: 0, stride: 8, count: { offset: 32, width: 4 } } },
  sysregs: Object.fromEntries([0, 1, 2, 3].map((n) => [`ICH_LR${n}_EL2`, { array: 'vgic_lr', index: n }])),
};

interface Options {
  /** used_lrs as the flush sets it (1 unless given); only LR0 is restored. */
  used?: number;
  /** The guest acknowledges the interrupt but does not complete it (LR0 stays active, not free). */
  noEoi?: boolean;
  /** LR0 not restored before the entry. */
  skipRestore?: boolean;
  /** LR0 not saved after the exit. */
  skipSave?: boolean;
  /** The save takes the copy (State cleared) without asking ICH_ELRSR_EL2 whether LR0 is free. */
  readCopy?: boolean;
}

function snippet(o: Options): string {
  return `
${stage2Setup('((1 << 0) | (1 << 4) | (1 << 31))')}
	adr	x20, vcpu
	ldr	x1, =0xff000002
	msr	s3_4_c12_c11_7, x1	// ICH_VMCR_EL2: VPMR 0xff, VENG1
	mov	x1, #1
	msr	s3_4_c12_c11_0, x1	// ICH_HCR_EL2.En
	ldr	x1, =0x${LR0.toString(16)}
	str	x1, [x20]		// the flush: vgic_lr[0], then used_lrs
	mov	w1, #${o.used ?? 1}
	str	w1, [x20, #32]
${o.skipRestore ? '' : '	ldr	x1, [x20]\n	msr	s3_4_c12_c12_0, x1	// ICH_LR0_EL2\n'}${enterGuest('guest', 'enter')}
guest:
	mrs	x3, s3_0_c12_c12_0	// ICC_IAR1_EL1 (the virtual interface's under IMO)
${o.noEoi ? '' : '	msr	s3_0_c12_c12_1, x3	// ICC_EOIR1_EL1\n'}	hvc	#0
	.balign 2048
vectors:
	.skip	0x400
exit:
	mrs	x1, s3_4_c12_c11_5	// ICH_ELRSR_EL2
${o.readCopy ? '' : '	tbz	x1, #0, 1f\n'}free:
	ldr	x2, [x20]
	and	x2, x2, #0x3fffffffffffffff
	b	2f
1:	mrs	x2, s3_4_c12_c12_0
2:
saved:
${o.skipSave ? '' : '	str	x2, [x20]\n'}clear:
	msr	s3_4_c12_c12_0, xzr
fold:
	str	wzr, [x20, #32]
	b	__end
	.balign 8
.global vcpu
vcpu:	.quad	0, 0x2222, 0x3333, 0
	.word	0, 0
${S2_TABLE}
`;
}

function run(o: Options, source = snippet(o), stops = ['guest', 'exit', 'fold', '__end']) {
  const image = assemble(`.text\n.global _start\n_start:\n${source}\n__end:\n\tb __end\n`);
  const m = new Machine({ memory: 64 * 1024 * 1024, uartOut: () => {} });
  m.load(image);
  const sym = (n: string) => image.symbols.find((s) => s.name === n)!.value;
  const w = new World(m.pes).attach();
  w.checking = true;
  w.stop = () => {};
  const layout = parseLayout(JSON.stringify(LAYOUT), { registers: (n) => m.sysregs.byName(n) });
  w.bind(
    layout,
    bindLayout(layout, { symbol: (n) => m.symbol(n), phys: Number, pointer: () => 0n, peOffset: () => 0n }),
  );
  const rows: Record<string, ResidencyRow[]> = {};
  for (const at of stops) {
    m.cpu.debug.breakpoints.add(sym(at));
    const r = m.run(1_000_000);
    m.cpu.debug.breakpoints.delete(sym(at));
    if (r.kind !== 'breakpoint' || r.pc !== sym(at)) throw new Error(`the snippet did not reach ${at}: ${r.kind}`);
    rows[at] = w.residency(w.vcpus[0]!);
  }
  return {
    sym,
    rows,
    hazards: w.recent.hazards.toArray().map((h) => [h.kind, h.reg, h.pc]),
  };
}

/**
 * A run with no interrupt in flight (used_lrs 0), then, after its exit, the flush of one
 * (vgic_lr[0], used_lrs 1) and its restore, which reads the copy, and a second run of the guest.
 */
const RAISED = `
${stage2Setup('((1 << 0) | (1 << 4) | (1 << 31))')}
	adr	x20, vcpu
	mov	x21, #0
${enterGuest('guest')}
guest:
	hvc	#0
	hvc	#0
	.balign 2048
vectors:
	.skip	0x400
	cbnz	x21, __end
	mov	x21, #1
	ldr	x1, =0x${LR0.toString(16)}
	str	x1, [x20]
	mov	w1, #1
	str	w1, [x20, #32]
restore:
	ldr	x1, [x20]
	msr	s3_4_c12_c12_0, x1
	eret
	.balign 8
.global vcpu
vcpu:	.quad	0x1234, 0, 0, 0
	.word	0, 0
${S2_TABLE}
`;

const view = (rows: readonly ResidencyRow[]) => rows.map((r) => [r.reg, r.authority, r.verdict]);

describe('list registers bounded by a count in memory', () => {
  it('the first used_lrs are switched on entry and exit; the rest are not in use, not stale', () => {
    const r = run({});
    expect(r.hazards).toEqual([]);
    // At the entry: LR0 restored from its copy; LR1 and LR2 hold other values than their copies, unchecked.
    expect(view(r.rows.guest!)).toEqual([
      ['ICH_LR0_EL2', 'cpu', 'in sync'],
      ['ICH_LR1_EL2', 'none', 'not in use (index 1 of vgic_lr, count 1)'],
      ['ICH_LR2_EL2', 'none', 'not in use (index 2 of vgic_lr, count 1)'],
      ['ICH_LR3_EL2', 'none', 'not in use (index 3 of vgic_lr, count 1)'],
    ]);
    expect(r.rows.guest![0]!.cpu).toBe(LR0);
    // At the exit the guest has acknowledged and completed vINTID 27: the CPU's LR0 is free, its copy pending.
    const atExit = r.rows.exit![0]!;
    expect([atExit.authority, atExit.verdict]).toEqual(['cpu', 'CPU live, memory stale (expected while loaded)']);
    expect(decodeLr(atExit.cpu!)).toMatchObject({ vintid: 27, state: 0 });
    expect(decodeLr(atExit.memory)).toMatchObject({ vintid: 27, state: 1 });
    // Saved (the free register's copy with State cleared), then zeroed on the CPU; the count still 1.
    expect(r.rows.fold![0]!).toMatchObject({ authority: 'memory', cpu: 0n, memory: LR0 & ~(3n << 62n) });
    // used_lrs back to 0: none of them is the vcpu's any more.
    expect(r.rows.__end!.map((x) => x.authority)).toEqual(['none', 'none', 'none', 'none']);
    expect(residencyTable(r.rows.__end!)).toMatch(/^ICH_LR0_EL2 +0x0 +0x10a000000000001b +— +entry\/exit +not in use/m);
  });

  it('a list register the guest left active is saved by reading it: no hazard either', () => {
    const r = run({ noEoi: true });
    expect(r.hazards).toEqual([]);
    expect(decodeLr(r.rows.fold![0]!.memory)).toMatchObject({ vintid: 27, state: 2 });
  });

  it('an entry with a list register below the count not restored is a missing load; past the count it is not', () => {
    const r = run({ skipRestore: true });
    // (Then the exit's save takes LR0's copy, which the CPU never held: the read and write after it are reported too.)
    expect(r.hazards[0]).toEqual(['missing-load', 'ICH_LR0_EL2', r.sym('enter')]);
    expect(run({ skipRestore: true, used: 0 }).hazards).toEqual([]);
    // used_lrs 2: LR1 (never restored, its copy 0x2222) is the guest's too.
    const two = run({ used: 2 });
    expect(two.hazards).toEqual([['missing-load', 'ICH_LR1_EL2', two.sym('enter')]]);
  });

  it('one the hypervisor brings into use after an exit is its to fill and restore until the next entry', () => {
    const r = run({}, RAISED, ['restore', '__end']);
    expect(r.hazards).toEqual([]);
    // Not in use at the exit: its copy, now in use, is what the restore reads, not a stale one.
    expect(r.rows.restore![0]).toMatchObject({
      authority: 'memory',
      cpu: 0n,
      memory: LR0,
      verdict: 'memory live, CPU holds another value',
    });
    expect(r.rows.__end![0]).toMatchObject({ authority: 'cpu', cpu: LR0, verdict: 'in sync' });
  });

  it('a list register zeroed before the exit saved it is a partial put at that MSR', () => {
    const r = run({ skipSave: true });
    expect(r.hazards).toEqual([['partial-put', 'ICH_LR0_EL2', r.sym('clear')]]);
  });

  it("taking the copy of a list register that is not free (the guest's active interrupt) is a stale read", () => {
    const r = run({ noEoi: true, readCopy: true });
    expect(r.hazards[0]).toEqual(['stale-read', 'ICH_LR0_EL2', r.sym('free')]);
    // The same read of a free register's copy is how KVM saves it.
    expect(run({ readCopy: true }).hazards).toEqual([]);
  });

  it('refuses a count that overlaps a slot, or keys it does not know', () => {
    const registers = (n: string) => new Machine({ memory: 1 << 20, uartOut: () => {} }).sysregs.byName(n);
    const withCount = (count: object) =>
      parseLayout(JSON.stringify({ ...LAYOUT, arrays: { vgic_lr: { offset: 0, stride: 8, count } } }), { registers });
    expect(() => withCount({ offset: 8 })).toThrow('arrays.vgic_lr.count: its word overlaps the slot of ICH_LR1_EL2');
    expect(() => withCount({ offset: 32, bit: 1 })).toThrow('arrays.vgic_lr.count: unknown key "bit"');
    expect(() => withCount({ offset: 32, width: 3 })).toThrow('arrays.vgic_lr.count.width: width must be 1, 2, 4 or 8');
  });
});
