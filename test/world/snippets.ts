// Hypervisor snippets shared by the world tests (assembled with the GNU assembler), and the
// pieces they are made of.
import type { Machine } from '../../src/board/machine.js';
import { World } from '../../src/world/world.js';
import { parseLayout, bindLayout } from '../../src/world/layout.js';

/**
 * The hypervisor's set-up: stage 2 from one level-1 table at `s2_l1` (see S2_TABLE, T0SZ=32,
 * SL0=1, 4K granule) whose entry 1 maps IPA 1G..2G to the same PA as a block (normal memory,
 * S2AP RW, AF), IPA 0..1G left unmapped; VTTBR_EL2 with VMID `vmid` (none given: VMID 0),
 * HCR_EL2 = `hcr`, VBAR_EL2 = `vectors`. Uses x0-x2.
 */
export function stage2Setup(hcr: string, vmid?: number): string {
  return `	adr	x0, s2_l1
	ldr	x1, =0x400007fd
	str	x1, [x0, #8]
${
  vmid === undefined
    ? ''
    : `	mov	x2, #${vmid}
	orr	x0, x0, x2, lsl #48
`
}	msr	vttbr_el2, x0
	ldr	x0, =0x80003560
	msr	vtcr_el2, x0
	ldr	x0, =${hcr}
	msr	hcr_el2, x0
	adr	x0, vectors
	msr	vbar_el2, x0`;
}

/** The stage-2 table stage2Setup points VTTBR_EL2 at. */
export const S2_TABLE = `	.balign 4096
s2_l1:	.skip	4096`;

/** An entry into the guest at `label`, at EL1h with DAIF masked; the ERET is at `eretLabel` when given. Uses x0. */
export function enterGuest(label: string, eretLabel?: string): string {
  return `	adr	x0, ${label}
	msr	elr_el2, x0
	mov	x0, #0x3c5
	msr	spsr_el2, x0
${eretLabel === undefined ? '' : `${eretLabel}:\n`}	eret`;
}

/**
 * vcpu_load of a hypervisor that keeps SCTLR_EL1 in vcpu+0 and a loaded flag in vcpu+8
 * (the data: VCPU): x20 = vcpu, SCTLR_EL1 from the slot, then the flag set (at the label
 * `flagStore`, if given). Uses x1.
 */
export function vcpuLoad(flagStore?: string): string {
  return `	adr	x20, vcpu
	ldr	x1, [x20]
	msr	sctlr_el1, x1
	mov	x1, #1
${
  flagStore === undefined
    ? ''
    : `${flagStore}:
`
}	str	x1, [x20, #8]`;
}

/**
 * A checking World on `m`'s PE with the layout of VCPU bound: vcpu0 at the symbol `vcpu`, SCTLR_EL1
 * in its slot at +0, governed by the LOADED flag (bit 0 at +8).
 */
export function vcpuWorld(m: Machine): World {
  const w = new World(m.pes).attach();
  w.checking = true;
  const layout = parseLayout(
    JSON.stringify({
      format: 'hypstep-vcpu-layout',
      version: 1,
      vcpus: [{ name: 'vcpu0', symbol: 'vcpu' }],
      sysregs: { SCTLR_EL1: { offset: 0 } },
      flags: { LOADED: { offset: 8, mask: 1, governs: ['SCTLR_EL1'] } },
    }),
  );
  w.bind(
    layout,
    bindLayout(layout, { symbol: (n) => m.symbol(n), phys: Number, pointer: () => 0n, peOffset: () => 0n }),
  );
  return w;
}

/** The vcpu of vcpuLoad: SCTLR_EL1's slot (its reset value) and the loaded flag. */
export const VCPU = `	.balign 8
.global vcpu
vcpu:	.quad	0x30d00800, 0`;

// EL2 calls `common`, enters a guest (stage-2 identity block for 1G..2G) which calls `common`
// too and then makes hypercalls; the vector returns to the guest until HVC #1.
export const GUEST_SNIPPET = `
.text
.global _start
_start:
${stage2Setup('((1 << 0) | (1 << 31))', 7)}
${vcpuLoad()}
	bl	common
	adr	x0, guest
	msr	elr_el2, x0
	mov	x0, #0x3c5
	msr	spsr_el2, x0
	eret
common:
	add	x7, x7, #1
	ret
guest:
	bl	common
	hvc	#0x42
guest2:
	hvc	#0x43
	hvc	#1
	.balign 2048
vectors:
	.skip	0x400
	mrs	x9, esr_el2
	and	x9, x9, #0xffff
	cmp	x9, #1
	b.eq	done
	eret
done:
	mrs	x1, sctlr_el1
	str	x1, [x20]
	str	xzr, [x20, #8]
	ldr	x0, =0x84000008
	smc	#0
${VCPU}
${S2_TABLE}
`;

/** A layout for GUEST_SNIPPET: SCTLR_EL1 at vcpu+0, governed by a flag at vcpu+8. */
export const snippetLayout = JSON.stringify({
  format: 'hypstep-vcpu-layout',
  version: 1,
  hypervisor: 'snippet',
  vcpus: [{ name: 'vcpu0', symbol: 'vcpu', vmid: 7 }],
  sysregs: { SCTLR_EL1: { offset: 0 } },
  flags: { LOADED: { offset: 8, mask: '0x1', governs: ['SCTLR_EL1'] } },
});
