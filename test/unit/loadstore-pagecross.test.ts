// Loads and stores that cross a page boundary into (or out of) an unmapped page, compared with
// QEMU: every size of single load and store, both directions, pairs, each at every offset that
// makes the access cross. Both machines print the exception (ESR, FAR), the destination registers
// of a load and the bytes around the boundary after a store.
//
// The ARM ARM's Mem[] splits an unaligned access into bytes accessed from the lowest address up,
// so the fault address is that of the first byte that faults: the first byte of the unmapped page
// when the access runs into it, the access's own address when it starts in it. A store whose
// access faults writes none of its bytes (QEMU probes both pages before storing; the ARM ARM
// leaves the bytes UNKNOWN); a pair stores its first element before the second one faults.
import { describe, it, expect } from 'vitest';
import { program } from '../helpers/asm.js';
import { runSourceOnBoth } from '../helpers/both.js';
import { armArmEsrLine, EL2_MMU_ON } from './loadstore-harness.js';

// RAM 0x4000_0000.. in 2 MiB blocks: the first two mapped, the third unmapped, the fourth mapped.
const INTO = 0x4040_0000; // mapped below, unmapped above
const OUT_OF = 0x4060_0000; // unmapped below, mapped above

interface Access {
  insn: string;
  /** Bytes the whole instruction accesses from its address. */
  span: number;
  load: boolean;
}

const ACCESSES: Access[] = [
  ...(
    [
      ['ldrh w1', 2],
      ['ldrsh x1', 2],
      ['ldr w1', 4],
      ['ldrsw x1', 4],
      ['ldr x1', 8],
      ['ldp w1, w2', 8],
      ['ldp x1, x2', 16],
      ['ldpsw x1, x2', 8],
    ] as const
  ).map(([insn, span]) => ({ insn, span, load: true })),
  ...(
    [
      ['strh w3', 2],
      ['str w3', 4],
      ['str x3', 8],
      ['stp w3, w4', 8],
      ['stp x3, x4', 16],
    ] as const
  ).map(([insn, span]) => ({ insn, span, load: false })),
];

function cases(): string[] {
  const out: string[] = [];
  for (const a of ACCESSES)
    for (const boundary of [INTO, OUT_OF])
      for (let back = 1; back < a.span; back++) {
        const at = boundary - back;
        out.push(`\t// ${a.insn} at 0x${at.toString(16)}`, '\tbl fill', `\tldr x10, =0x${at.toString(16)}`);
        out.push('\tmovq x1, 0x1111111111111111', '\tmovq x2, 0x2222222222222222');
        out.push(`\t${a.insn}, [x10]`);
        if (a.load) out.push('\tmov x20, x1', '\tbl puthex', '\tmov x20, x2', '\tbl puthex');
        else out.push('\tbl dump');
        out.push('\tbl newline');
      }
  return out;
}

function source(): string {
  return program(`${EL2_MMU_ON}
	movq x3, 0xa3a2a1a0a7a6a5a4
	movq x4, 0xb7b6b5b4b3b2b1b0
${cases().join('\n')}
	SEMIHOSTING_EXIT

fill:	// the 16 bytes on each side of both boundaries that are mapped: 0x5a
	ldr x11, =0x5a5a5a5a5a5a5a5a
	ldr x12, =${INTO - 16}
	stp x11, x11, [x12]
	ldr x12, =${OUT_OF}
	stp x11, x11, [x12]
	ret
dump:	// the mapped 16 bytes next to the boundary x10 is near, as two quads
	mov x29, x30
	and x12, x10, #~0x1fffff
	add x12, x12, #0x200000
	ldr x13, =${INTO}
	cmp x12, x13
	sub x13, x12, #16
	csel x12, x13, x12, eq
	ldr x20, [x12]
	bl puthex
	ldr x20, [x12, #8]
	bl puthex
	mov x30, x29
	ret
puthex:	// x20 as 16 hex digits and a space; uses x21, x22, x23
	UART_HEX 24, 20, 21, 22, 23
	mov w22, #' '
	strb w22, [x24]
	ret
newline:
	mov w22, #10
	strb w22, [x24]
	ret
	.ltorg

	.balign 2048
vectors:
	.fill 128, 4, 0xd4200000
	b handler
handler:	// 'E', ESR and FAR on a line of their own, then resume after the instruction
	mov x28, x30
	mov w22, #'E'
	strb w22, [x24]
	mrs x20, esr_el2
	bl puthex
	mrs x20, far_el2
	bl puthex
	bl newline
	mrs x20, elr_el2
	add x20, x20, #4
	msr elr_el2, x20
	mov x30, x28
	eret

	.data
	.balign 4096
l1_table:
	.quad 0x00000401             // 0-1 GiB: Device-nGnRnE (the UART), AF
	.quad l2_table + 3           // 1-2 GiB: 2 MiB blocks
	.fill 510, 8, 0
l2_table:
	.quad 0x40000705             // Normal, inner shareable, AF
	.quad 0x40200705
	.quad 0                      // 0x4040_0000..0x405f_ffff: unmapped
	.quad 0x40600705
	.fill 508, 8, 0
`);
}

/** A handler's line with its ESR as the ARM ARM has it (see armArmEsrLine). */
function armArm(line: string): string {
  return line.replace(/^E[0-9a-f]{16}/, (esr) => armArmEsrLine(esr));
}

describe('page-crossing loads and stores against QEMU', () => {
  it('fault where the ARM ARM says, and leave registers and memory as QEMU does', () => {
    const { qemu: q, hypstep: h } = runSourceOnBoth(source());
    expect(h.stop).toBe('exit');
    const ql = q.stdout.split('\n').map(armArm);
    const hl = h.stdout.split('\n');
    const n = ACCESSES.reduce((s, a) => s + 2 * (a.span - 1), 0);
    expect(ql.filter((l) => l !== '').length).toBeGreaterThanOrEqual(n);
    // Every access that runs into the unmapped block faults at its first byte (FAR = 0x40400000).
    expect(ql.filter((l) => l.startsWith('E') && l.includes(' 0000000040400000 ')).length).toBeGreaterThan(20);
    const first = ql.findIndex((l, i) => l !== hl[i]);
    expect(first === -1 ? 'identical' : `line ${first}: qemu '${ql[first]}' hypstep '${hl[first]}'`).toBe('identical');
    expect(hl.length).toBe(ql.length);
  });
});
