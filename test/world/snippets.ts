// Hypervisor snippets shared by the world tests (assembled with the GNU assembler).

// EL2 calls `common`, enters a guest (stage-2 identity block for 1G..2G) which calls `common`
// too and then makes hypercalls; the vector returns to the guest until HVC #1.
export const GUEST_SNIPPET = `
.text
.global _start
_start:
	adr	x0, s2_l1
	ldr	x1, =0x400007fd
	str	x1, [x0, #8]
	mov	x2, #7
	orr	x0, x0, x2, lsl #48
	msr	vttbr_el2, x0
	ldr	x0, =0x80003560
	msr	vtcr_el2, x0
	ldr	x0, =((1 << 0) | (1 << 31))
	msr	hcr_el2, x0
	adr	x0, vectors
	msr	vbar_el2, x0
	adr	x20, vcpu
	ldr	x1, [x20]
	msr	sctlr_el1, x1
	mov	x1, #1
	str	x1, [x20, #8]
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
	.balign 8
.global vcpu
vcpu:	.quad	0x30d00800, 0
	.balign 4096
s2_l1:	.skip	4096
`;


/** A layout for GUEST_SNIPPET: SCTLR_EL1 at vcpu+0, governed by a flag at vcpu+8. */
export const snippetLayout = JSON.stringify({
  format: 'hypstep-vcpu-layout', version: 1, hypervisor: 'snippet',
  vcpus: [{ name: 'vcpu0', symbol: 'vcpu', vmid: 7 }],
  sysregs: { SCTLR_EL1: { offset: 0 } },
  flags: { LOADED: { offset: 8, mask: '0x1', governs: ['SCTLR_EL1'] } },
});
