// The layout kinds a real KVM needs, on hypervisor snippets (assembled with the GNU assembler): a
// flag that is an enum's value (`equals`, as `fp_state == FP_STATE_GUEST_OWNED`), a flag an entry
// does not require (`onEntry: none`, KVM's vGIC for a VM without one), a flag between the returns
// of two functions (KVM's vgic_v3_load and vgic_v3_put), a switched register overwritten at EL2
// before the exit saved it (a partial put at that MSR), and vcpus discovered with their VM and
// id, put, and forgotten when freed (`monitor vcpu list`).
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/board/machine.js';
import { assemble } from '../helpers/asm.js';
import { World } from '../../src/world/world.js';
import { parseLayout, bindLayout } from '../../src/world/layout.js';
import { useLayout } from '../../src/world/attach.js';
import { vcpuListJson } from '../../src/world/format.js';
import { enterGuest, stage2Setup, S2_TABLE } from './snippets.js';

function build(source: string): { m: Machine; sym: (n: string) => bigint } {
  const image = assemble(`.text\n.global _start\n_start:\n${source}\n__end:\n\tb __end\n`);
  const m = new Machine({ memory: 64 * 1024 * 1024, uartOut: () => {} });
  m.load(image);
  return { m, sym: (n: string) => image.symbols.find((s) => s.name === n)!.value };
}

/** Runs to `stop` (a label), for at most a few million instructions. */
function runTo(m: Machine, at: bigint): void {
  m.cpu.debug.breakpoints.add(at);
  for (let i = 0; i < 20; i++) {
    const r = m.run(1_000_000);
    if (r.kind === 'breakpoint' && r.pc === at) {
      m.cpu.debug.breakpoints.delete(at);
      return;
    }
    if (r.kind !== 'requested') throw new Error(`snippet stopped: ${r.kind}`);
  }
  throw new Error('snippet did not get there');
}

// The vcpu: SCTLR_EL1's slot at +0, an ownership enum (4 bytes) at +8, TPIDR_EL1's slot at +16.
const LAYOUT = {
  format: 'hypstep-vcpu-layout',
  version: 1,
  vcpus: [{ name: 'vcpu0', symbol: 'vcpu' }],
  sysregs: { SCTLR_EL1: { offset: 0 }, TPIDR_EL1: { offset: 16 } },
  flags: { OWNED: { offset: 8, width: 4, equals: 2, onEntry: 'none', governs: ['SCTLR_EL1'] } },
};

/**
 * Enters with OWNED clear (1) and SCTLR_EL1 as its slot holds it (or not: `badEntry`); the guest
 * sets TPIDR_EL1; the exit saves it (or not: `skipSave`) before writing the host's; then the
 * enum goes to 2 (a load) and back to 1 (a put).
 */
function snippet(o: { badEntry?: boolean; skipSave?: boolean }): string {
  return `
${stage2Setup('((1 << 0) | (1 << 31))')}
	adr	x20, vcpu
	ldr	x1, [x20]
${o.badEntry ? '	orr	x1, x1, #1\n' : ''}	msr	sctlr_el1, x1
	ldr	x1, [x20, #16]
	msr	tpidr_el1, x1
${enterGuest('guest', 'enter')}
guest:
	ldr	x7, =0x1234
	msr	tpidr_el1, x7
	hvc	#0
	.balign 2048
vectors:
	.skip	0x400
	mrs	x1, tpidr_el1
${o.skipSave ? '' : '	str	x1, [x20, #16]\n'}host_msr:
	msr	tpidr_el1, xzr
	mov	w1, #2
owned:
	str	w1, [x20, #8]
	mov	w1, #1
disowned:
	str	w1, [x20, #8]
	b	__end
	.balign 8
.global vcpu
vcpu:	.quad	0x30d00800, 1, 0
${S2_TABLE}
`;
}

/** `placeAgain`: the layout is placed again at the first exit, as one bound before the hypervisor's MMU was on. */
function run(o: { badEntry?: boolean; skipSave?: boolean; placeAgain?: boolean }) {
  const { m, sym } = build(snippet(o));
  const w = new World(m.pes).attach();
  w.checking = true;
  w.stop = () => {};
  const layout = parseLayout(JSON.stringify(LAYOUT));
  const place = () =>
    bindLayout(layout, { symbol: (n) => m.symbol(n), phys: Number, pointer: () => 0n, peOffset: () => 0n });
  w.bind(layout, place(), o.placeAgain ? place : null);
  runTo(m, sym('__end'));
  return {
    sym,
    loadPut: w.recent.loadPut.toArray().map((r) => [r.type, r.flag, r.pc]),
    hazards: w.recent.hazards.toArray().map((h) => [h.kind, h.reg, h.pc]),
  };
}

describe('flag kinds for KVM', () => {
  it('an equals flag is set while the word holds the value: the enum going to 2 is a load, leaving it a put', () => {
    const r = run({});
    expect(r.loadPut).toEqual([
      ['load', 'OWNED', r.sym('owned')],
      ['put', 'OWNED', r.sym('disowned')],
    ]);
    // Entered with OWNED clear (onEntry: none); the exit saved TPIDR_EL1.
    expect(r.hazards).toEqual([]);
  });

  it('onEntry none: the entry is not checked, the load that follows is', () => {
    const r = run({ badEntry: true });
    // The load sets the flag with SCTLR_EL1 not as its slot holds it, and the put clears it so.
    expect(r.hazards).toEqual([
      ['partial-load', 'SCTLR_EL1', r.sym('owned')],
      ['partial-put', 'SCTLR_EL1', r.sym('disowned')],
    ]);
  });

  it("a switched register written at EL2 before the exit's save stored it is a partial put at that MSR", () => {
    const r = run({ skipSave: true });
    expect(r.hazards).toEqual([['partial-put', 'TPIDR_EL1', r.sym('host_msr')]]);
  });

  it('so it is when the layout is placed again at that exit (bound before the MMU was on, as at reset)', () => {
    const r = run({ skipSave: true, placeAgain: true });
    expect(r.hazards).toEqual([['partial-put', 'TPIDR_EL1', r.sym('host_msr')]]);
    expect(run({ placeAgain: true }).hazards).toEqual([]);
  });

  it('refuses equals together with bit, and an onEntry it does not know', () => {
    const flag = (f: object) =>
      parseLayout(JSON.stringify({ ...LAYOUT, flags: { F: { offset: 8, governs: ['SCTLR_EL1'], ...f } } }));
    expect(() => flag({ equals: 2, bit: 1 })).toThrow('give "equals" (and optionally "mask"), or "bit", not both');
    expect(() => flag({ equals: 4, mask: 3 })).toThrow('"equals" has bits outside the mask');
    expect(() => flag({ bit: 0, onEntry: 'lazy' })).toThrow('flags.F.onEntry: expected one of "loaded", "none"');
    expect(() => flag({ bit: 0, between: { from: 'a', to: 'b' } })).toThrow(
      'a flag "between" two functions has no word in memory (drop offset, bit)',
    );
    expect(() =>
      parseLayout(
        JSON.stringify({ ...LAYOUT, flags: { F: { between: { from: 'a', to: 'b' }, governs: ['SCTLR_EL1'] } } }),
      ),
    ).toThrow('flag F: a flag "between" two functions needs "discover" (the register with the vcpu)');
  });
});

describe('vcpus discovered with their VM and id', () => {
  it('are loaded on their PE at the load function, put at the put function and forgotten when freed', () => {
    // kvm_arch_vcpu_load(vcpu), kvm_arch_vcpu_put(vcpu), kvm_arch_vcpu_destroy(vcpu): the vcpu holds
    // its VM pointer at +24 and its id at +32.
    const { m, sym } = build(`
	adr	x0, vcpu
	bl	load_fn
after_load:
	adr	x0, vcpu
	bl	put_fn
after_put:
	adr	x0, vcpu
	bl	destroy_fn
after_destroy:
	b	__end
load_fn:
	mov	x1, #1
	str	x1, [x0, #8]
	ret
put_fn:
	str	xzr, [x0, #8]
	ret
destroy_fn:
	ret
	.balign 8
vcpu:	.quad	0x30d00800, 0, 0, 0xffff000012345000, 7
`);
    const w = new World(m.pes).attach();
    const layout = parseLayout(
      JSON.stringify({
        format: 'hypstep-vcpu-layout',
        version: 1,
        discover: { function: 'load_fn', arg: 'x0', forget: 'destroy_fn' },
        identity: { vm: { offset: 24 }, id: { offset: 32, width: 4 } },
        sysregs: { SCTLR_EL1: { offset: 0 } },
        flags: { LOADED: { offset: 8, bit: 0, governs: ['SCTLR_EL1'] } },
        functions: { load: { symbol: 'load_fn' }, put: { symbol: 'put_fn' } },
      }),
    );
    useLayout(w, m, layout);
    const list = () => JSON.parse(vcpuListJson(w)) as unknown[];
    runTo(m, sym('after_load'));
    expect(list()).toEqual([
      {
        vcpu: 'vcpu0',
        address: `0x${sym('vcpu').toString(16)}`,
        vm: { n: 0, at: '0xffff000012345000' },
        id: 7,
        vmid: null,
        loadedOn: 0,
        running: false,
        flags: ['LOADED'],
      },
    ]);
    runTo(m, sym('after_put'));
    expect(list()).toMatchObject([{ vcpu: 'vcpu0', loadedOn: null, flags: [] }]);
    runTo(m, sym('after_destroy'));
    expect(list()).toEqual([]);
    expect(w.vcpus).toEqual([]);
  });
});

describe('a flag between two functions', () => {
  // restore_fn(vcpu) writes TPIDR_EL1 from the slot at +0 (or not: `skipRestore`); save_fn(vcpu)
  // stores it back. The flag is set when restore_fn returns and cleared when save_fn does.
  function between(skipRestore: boolean) {
    const { m, sym } = build(`
	adr	x0, vcpu
	bl	load_fn
	adr	x0, vcpu
	bl	restore_fn
after_restore:
	ldr	x9, =0x77
restored:
	msr	tpidr_el1, x9
	adr	x0, vcpu
	bl	save_fn
after_save:
	b	__end
load_fn:
	ret
restore_fn:
${skipRestore ? '' : '	ldr	x1, [x0]\n	msr	tpidr_el1, x1\n'}	ret
save_fn:
	mrs	x1, tpidr_el1
	str	x1, [x0]
	ret
	.balign 8
vcpu:	.quad	0x55
`);
    const w = new World(m.pes).attach();
    w.checking = true;
    w.stop = () => {};
    const layout = parseLayout(
      JSON.stringify({
        format: 'hypstep-vcpu-layout',
        version: 1,
        discover: { function: 'load_fn', arg: 'x0' },
        sysregs: { TPIDR_EL1: { offset: 0 } },
        flags: { RESTORED: { between: { from: 'restore_fn', to: 'save_fn' }, governs: ['TPIDR_EL1'] } },
      }),
    );
    useLayout(w, m, layout);
    runTo(m, sym('restored'));
    const during = w.residency(w.vcpus[0]!)[0]!;
    runTo(m, sym('__end'));
    return {
      sym,
      during,
      after: w.residency(w.vcpus[0]!)[0]!,
      loadPut: w.recent.loadPut.toArray().map((r) => [r.type, r.flag, r.pc]),
      hazards: w.recent.hazards.toArray().map((h) => [h.kind, h.reg, h.pc]),
    };
  }

  it('is set from the return of the first to the return of the second, each at its return address', () => {
    const r = between(false);
    expect(r.during).toMatchObject({ authority: 'cpu', cpu: 0x55n, memory: 0x55n, governedBy: 'RESTORED' });
    expect(r.after).toMatchObject({ authority: 'memory', cpu: 0x77n, memory: 0x77n });
    expect(r.loadPut).toEqual([
      ['load', 'RESTORED', r.sym('after_restore')],
      ['put', 'RESTORED', r.sym('after_save')],
    ]);
    expect(r.hazards).toEqual([]);
  });

  it('a restore that skipped the register is a partial load at the return', () => {
    expect(between(true).hazards).toEqual([['partial-load', 'TPIDR_EL1', between(true).sym('after_restore')]]);
  });
});
