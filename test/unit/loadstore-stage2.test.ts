// The data-abort syndrome a hypervisor emulates MMIO with: an EL1 guest (stage 1 off)
// runs under a stage-2 translation whose first GiB is unmapped, and performs loads and
// stores of every kind on that hole. Each one is a stage-2 translation fault taken to EL2,
// whose handler prints ESR_EL2, FAR_EL2 and HPFAR_EL2 and skips the instruction. QEMU and
// hypstep must print the same: ISV=1 with SAS/SSE/SRT/SF/AR for single-register loads and
// stores (acquire/release and unprivileged ones included), ISV=0 for pairs, writeback forms,
// exclusives and atomics, WnR for stores. The atomics also meet read-only and write-only IPAs,
// where WnR says which of their two accesses stage 2 refused.
import { describe, it, expect } from 'vitest';
import { program as wholeProgram } from '../helpers/asm.js';
import { runSourceOnBoth } from '../helpers/both.js';

/** The guest's accesses to the hole (x10 = 0x0800_1230, x11 = 8, SP = x10). */
const ACCESSES = [
  'ldr x1, [x10]',
  'ldr w2, [x10, #4]',
  'ldrb w3, [x10, #1]',
  'ldrh w4, [x10, #2]',
  'ldrsb x5, [x10]',
  'ldrsb w6, [x10]',
  'ldrsh x7, [x10]',
  'ldrsh w8, [x10]',
  'ldrsw x9, [x10]',
  'ldr xzr, [x10]',
  'str x1, [x10]',
  'str w2, [x10]',
  'strh w3, [x10]',
  'strb wzr, [x10]',
  'ldur x12, [x10, #-3]',
  'stur w13, [x10, #5]',
  'ldtr x14, [x10]',
  'sttrh w15, [x10]',
  'ldtrsw x16, [x10]',
  'ldr x17, [x10, x11]',
  'strb w18, [x10, w11, uxtw]',
  'ldr x19, [sp]',
  'str x20, [sp, #8]',
  'ldar x21, [x10]',
  'stlr w22, [x10]',
  'ldarb w23, [x10]',
  'stlrh w24, [x10]',
  'ldr x25, [x10], #8',
  'str x1, [x10, #8]!',
  'ldp x1, x2, [x10]',
  'stp w1, w2, [x10]',
  'ldpsw x3, x4, [x10]',
  'ldxr x5, [x10]',
  'ldaxr w6, [x10]',
  'ldxp x7, x8, [x10]',
  // FEAT_LSE atomics: ISV=0; on the hole WnR=0 (a read would fault too); x12 is IPA 2 GiB + 0x1230,
  // mapped read-only at stage 2 (the write faults: WnR=1), x13 IPA 3 GiB + 0x1230, write-only (the
  // read faults: WnR=0).
  'ldaddal x1, x2, [x10]',
  'stsetl w3, [x10]',
  'swpab w4, w5, [x10]',
  'casa x6, x7, [x10]',
  'caspl x0, x1, x2, x3, [x10]',
  'ldumaxh w14, w15, [x12]',
  'stclr x16, [x12]',
  'cas w17, w18, [x12]',
  'casp w0, w1, w2, w3, [x12]',
  'ldeor x19, x20, [x13]',
  'swpl w21, w22, [x13]',
  'casb w23, w24, [x13]',
  'prfm pldl1keep, [x10]',
];

function program(): string {
  return wholeProgram(`	.arch armv8.1-a
	adr x0, vectors
	msr vbar_el2, x0
	ldr x24, =UART_BASE
	// Stage 2: 39-bit IPA, 4 KiB granule, start at level 1 (SL0=1), 40-bit PA; IPA 1-2 GiB maps
	// RAM 1:1 (Normal write-back, read/write, AF); IPA 0-1 GiB (the UART included) is a hole; IPA
	// 2-3 GiB maps the RAM read-only (S2AP=01), IPA 3-4 GiB write-only (S2AP=10).
	ldr x0, =(25 | (1 << 6) | (1 << 8) | (1 << 10) | (3 << 12) | (2 << 16) | (1 << 31))
	msr vtcr_el2, x0
	ldr x0, =s2_l1
	msr vttbr_el2, x0
	ldr x0, =((1 << 31) | 1)      // HCR_EL2: RW (EL1 is AArch64), VM
	msr hcr_el2, x0
	mov x0, #0x3c5                // EL1h, DAIF masked
	msr spsr_el2, x0
	adr x0, guest
	msr elr_el2, x0
	isb
	eret

guest:	// EL1, stage 1 off
	ldr x10, =0x08001230
	mov x11, #8
	mov sp, x10
	ldr x12, =0x80001230
	ldr x13, =0xc0001230
${ACCESSES.map((a) => `\t${a}`).join('\n')}
	hvc #1

puthex:	// x20 as 16 hex digits and a newline; uses x21, x22, x23
	UART_HEX 24, 20, 21, 22, 23
	mov w22, #10
	strb w22, [x24]
	ret

	.balign 2048
vectors:
	.fill 256, 4, 0xd4200000      // current EL: not expected
	b from_guest                  // 0x400: lower EL, AArch64, synchronous
from_guest:
	mrs x20, esr_el2
	lsr x25, x20, #26
	cmp x25, #0x16                // HVC: the guest is done
	b.eq done
	bl puthex
	mrs x20, far_el2
	bl puthex
	mrs x20, hpfar_el2
	bl puthex
	mrs x20, elr_el2
	add x20, x20, #4
	msr elr_el2, x20
	eret
done:
	SEMIHOSTING_EXIT

	.data
	.balign 4096
s2_l1:
	.quad 0
	.quad 0x40000000 | (1 << 10) | (3 << 8) | (3 << 6) | (0xf << 2) | 1
	.quad 0x40000000 | (1 << 10) | (3 << 8) | (1 << 6) | (0xf << 2) | 1
	.quad 0x40000000 | (1 << 10) | (3 << 8) | (2 << 6) | (0xf << 2) | 1
	.fill 508, 8, 0
`);
}

describe('stage-2 data abort syndromes against QEMU', () => {
  it('every kind of load and store on an unmapped IPA reports the same ESR, FAR and HPFAR', () => {
    const { qemu: q, hypstep: h } = runSourceOnBoth(program());
    expect(h.stop).toBe('exit');
    const ql = q.stdout.trim().split('\n');
    const hl = h.stdout.trim().split('\n');
    const rows = (l: string[]) =>
      ACCESSES.filter((a) => !a.startsWith('prfm')).map(
        (a, i) => `${a.padEnd(24)} esr=${l[3 * i]} far=${l[3 * i + 1]} hpfar=${l[3 * i + 2]}`,
      );
    expect(ql.length).toBe(3 * (ACCESSES.length - 1)); // all but the PRFM fault
    expect(rows(hl)).toEqual(rows(ql));
    // And by the ARM ARM's field definitions, for a few: EC 0x24, IL, ISV, SAS, SSE, SRT, SF, AR,
    // WnR, DFSC 0b000101 (translation fault, level 1: the walk starts at level 1).
    const esr = (a: string) => Number.parseInt(hl[3 * ACCESSES.indexOf(a)]!, 16);
    const iss = (isv: number, sas: number, sse: number, srt: number, sf: number, ar: number, wnr: number) =>
      ((0x24 << 26) |
        (1 << 25) |
        (isv << 24) |
        (sas << 22) |
        (sse << 21) |
        (srt << 16) |
        (sf << 15) |
        (ar << 14) |
        (wnr << 6) |
        0b000101) >>>
      0;
    expect(esr('ldrsb w6, [x10]')).toBe(iss(1, 0, 1, 6, 0, 0, 0));
    expect(esr('ldrsw x9, [x10]')).toBe(iss(1, 2, 1, 9, 1, 0, 0));
    expect(esr('ldr xzr, [x10]')).toBe(iss(1, 3, 0, 31, 1, 0, 0));
    expect(esr('strh w3, [x10]')).toBe(iss(1, 1, 0, 3, 0, 0, 1));
    expect(esr('stlr w22, [x10]')).toBe(iss(1, 2, 0, 22, 0, 1, 1));
    expect(esr('ldr x25, [x10], #8')).toBe(iss(0, 0, 0, 0, 0, 0, 0));
    expect(esr('stp w1, w2, [x10]')).toBe(iss(0, 0, 0, 0, 0, 0, 1));
    expect(esr('ldxr x5, [x10]')).toBe(iss(0, 0, 0, 0, 0, 0, 0));
    expect(esr('ldaddal x1, x2, [x10]')).toBe(iss(0, 0, 0, 0, 0, 0, 0));
    expect(esr('caspl x0, x1, x2, x3, [x10]')).toBe(iss(0, 0, 0, 0, 0, 0, 0));
    // Permission faults, level 1 (DFSC 0b001101): the write of an atomic on read-only, its read on write-only.
    const perm = (wnr: number) => ((iss(0, 0, 0, 0, 0, 0, wnr) & ~0b111111) | 0b001101) >>> 0;
    expect(esr('stclr x16, [x12]')).toBe(perm(1));
    expect(esr('cas w17, w18, [x12]')).toBe(perm(1));
    expect(esr('swpl w21, w22, [x13]')).toBe(perm(0));
    expect(esr('casb w23, w24, [x13]')).toBe(perm(0));
    expect(hl[1]).toBe('0000000008001230');
    expect(hl[2]).toBe('0000000000080010'); // HPFAR_EL2.FIPA = IPA[47:12] at bit 4
  });
});
