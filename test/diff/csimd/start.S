	.text
	.global _start
_start:
	ldr	x0, =stack_top
	mov	sp, x0
	bl	main
	mov	x1, x0
	adr	x1, exit_block
	mov	x0, #0x18
	hlt	#0xf000
	b	.
	.ltorg
	.data
	.balign 8
exit_block:
	.quad	0x20026, 0
	.bss
	.balign 16
	.skip	65536
stack_top:
