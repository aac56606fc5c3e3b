// Integer loads and stores on hypstep: values loaded, sign and zero extension, writeback,
// memory after stores, SP as base. Encodings come from the assembler; expected values are
// worked out from the data by the ARM ARM's semantics (the same kinds of program are also
// compared with QEMU in loadstore-qemu.test.ts). Faults: loadstore-faults.test.ts;
// exclusives: loadstore-exclusive.test.ts.
import { describe, it, expect, beforeAll } from 'vitest';
import { runLs, DATA, type LsRun } from './loadstore-harness.js';

const PROGRAM = `
	// --- loads of every size, zero- and sign-extending; unaligned ones with SCTLR_EL2.A=0
	ldr x1, =data
	ldr x2, [x1]
	ldr w3, [x1, #4]
	ldrh w4, [x1, #6]
	ldrb w5, [x1, #7]
	ldrsb x6, [x1, #7]
	ldrsb w7, [x1, #7]
	ldrsh x8, [x1, #6]
	ldrsh w9, [x1, #6]
	ldrsw x10, [x1, #16]
	ldrsw x11, [x1, #20]
	ldrsb x12, [x1]
	ldur x13, [x1, #1]
	ldursh w14, [x1, #9]
	add x16, x1, #16
	ldur x15, [x16, #-8]
	ldurb w17, [x16, #-1]
	ldursw x18, [x16, #-5]
	ldr x19, lit_w
	ldr w20, lit_w
	ldrsw x21, lit_w
	ldr x22, =0xfedcba9876543210
	ldrh w23, [x1, #4094]
	ldtrsh x24, [x1, #6]
	ldtrb w25, [x1, #-255 + 256]
snap_loads:
	// --- register offsets
	mov x2, #2
	ldr x3, [x1, x2, lsl #3]
	ldr x4, [x1, x2]
	mov x5, #-4
	ldr w6, [x16, w5, sxtw]
	ldr x7, =0xdeadbeef00000003
	ldrb w8, [x1, w7, uxtw]
	ldrh w9, [x16, x5, sxtx #1]
	ldrsh x10, [x1, w2, uxtw #1]
	ldrb w11, [x1, x2, lsl #0]
	ldr w12, [x16, x5, sxtx]
	add x17, x1, #32
	ldr x13, [x17, w5, sxtw #3]
	ldrsb w14, [x1, w2, sxtw]
	ldr x15, [x17, x5, sxtx #3]
snap_regoff:
	// --- pre- and post-index writeback, pairs
	ldr x1, =data
	ldr x2, [x1, #8]!
	add x3, x1, #0
	ldr w4, [x3], #-8
	ldrsb x5, [x3, #7]!
	ldrsh w6, [x3], #1
	ldr xzr, [x3, #8]!
	ldp x7, x8, [x1, #-8]!
	ldp w9, w10, [x1], #8
	ldpsw x11, x12, [x1, #8]
	ldnp x13, x14, [x1, #-8]
	ldtr x15, [x1, #8]
	ldpsw x17, x18, [x1, #-8]!
	add x19, x1, #16
	ldr x20, [x19, #-16]!
	ldurh w21, [x19, #3]
snap_wb:
	// --- stores of every size and form
	ldr x1, =buf
	ldr x2, =0x0123456789abcdef
	strb w2, [x1]
	strh w2, [x1, #2]
	str w2, [x1, #4]
	str x2, [x1, #8]
	stur x2, [x1, #17]
	sturh wzr, [x1, #26]
	sttrb w2, [x1, #28]
	str x2, [x1, #32]!
	strh w2, [x1], #-24
	add x3, x1, #32
	stp x2, xzr, [x3], #8
	ldr x4, =0x1122334455667788
	stp w4, w2, [x3, #8]!
	stnp x4, x2, [x1, #56]
	mov x5, #0x48
	str w4, [x1, x5]
	mov x6, #-1
	add x7, x1, #0x4d
	strh w2, [x7, w6, sxtw #1]
	stp w2, w4, [x1, #0x50]
	mov x8, #11
	strb w4, [x1, x8, lsl #0]
snap_st:
	// --- SP as the base register (SCTLR_EL2.SA=0 at reset)
	ldr x1, =stack_top
	mov sp, x1
	ldr x2, =0xaaaabbbbccccdddd
	stp x2, x1, [sp, #-16]!
	str w2, [sp, #-4]!
	ldr w3, [sp], #4
	ldp x4, x5, [sp], #16
	ldr x6, [sp, #-16]
	mov x7, sp
	ldrb w8, [sp, #-12]
	ldr x9, [sp, xzr]
snap_sp:
${DATA}`;

describe('single-register and pair loads and stores', () => {
  let r: LsRun;
  beforeAll(() => {
    r = runLs(PROGRAM);
  });

  it('take no exception', () => {
    expect(r.taken).toEqual([]);
  });

  it('load every size with zero and sign extension, aligned and unaligned, immediate and literal', () => {
    const s = r.snap('loads');
    const got = (ns: number[]) => ns.map((n) => [n, s.x(n)]);
    const want: [number, bigint][] = [
      [2, 0x8877665544332211n],
      [3, 0x88776655n],
      [4, 0x8877n],
      [5, 0x88n],
      [6, 0xffff_ffff_ffff_ff88n],
      [7, 0xffff_ff88n],
      [8, 0xffff_ffff_ffff_8877n],
      [9, 0xffff_8877n],
      [10, 0xffff_ffff_8000_0000n],
      [11, 0x7fff_ffffn],
      [12, 0x11n],
      [13, 0x9088776655443322n],
      [14, 0xffff_b0a0n],
      [15, 0x00f0e0d0c0b0a090n],
      [17, 0x00n],
      [18, 0xffff_ffff_f0e0_d0c0n],
      [19, 0x89abcdefn],
      [20, 0x89abcdefn],
      [21, 0xffff_ffff_89ab_cdefn],
      [22, 0xfedcba9876543210n],
      [24, 0xffff_ffff_ffff_8877n],
      [25, 0x22n],
    ];
    expect(got(want.map(([n]) => n))).toEqual(want);
    // 4094 bytes past data is whatever the image put there: compare with memory.
    expect(s.x(23)).toBe(r.mem('data', 4094, 2));
  });

  it('register offsets: LSL, UXTW, SXTW and SXTX, scaled and not', () => {
    const s = r.snap('regoff');
    const want: [number, bigint][] = [
      [3, 0x7fffffff80000000n],
      [4, 0xa090887766554433n],
      [6, 0x00f0e0d0n],
      [8, 0x44n],
      [9, 0xa090n],
      [10, 0x6655n],
      [11, 0x33n],
      [12, 0x00f0e0d0n],
      [13, 0x8877665544332211n],
      [14, 0x33n],
      [15, 0x8877665544332211n],
    ];
    expect(want.map(([n]) => [n, s.x(n)])).toEqual(want);
  });

  it('pre- and post-index forms write the base back; pairs load both registers', () => {
    const s = r.snap('wb');
    const data = r.sym('data');
    const want: [number, bigint][] = [
      [2, 0x00f0e0d0c0b0a090n],
      [4, 0xc0b0a090n],
      [5, 0xffff_ffff_ffff_ff88n],
      [6, 0xffff_9088n],
      [3, data + 16n], // +8 -8 +7 +1, then the XZR load's writeback +8
      [7, 0x8877665544332211n],
      [8, 0x00f0e0d0c0b0a090n],
      [9, 0x44332211n],
      [10, 0x88776655n],
      [11, 0xffff_ffff_8000_0000n],
      [12, 0x7fff_ffffn],
      [13, 0x8877665544332211n],
      [14, 0x00f0e0d0c0b0a090n],
      [15, 0x7fffffff80000000n],
      [17, 0x44332211n],
      [18, 0xffff_ffff_8877_6655n],
      [1, data],
      [19, data],
      [20, 0x8877665544332211n],
      [21, 0x5544n],
    ];
    expect(want.map(([n]) => [n, s.x(n)])).toEqual(want);
  });

  it('stores write exactly their bytes, and write back', () => {
    const s = r.snap('st');
    const buf = r.sym('buf');
    const bytes = Array.from({ length: 96 }, (_, i) => Number(r.mem('buf', i, 1)));
    const want = new Array<number>(96).fill(0xff);
    const put = (at: number, v: bigint, n: number) => {
      for (let i = 0; i < n; i++) want[at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
    };
    const x2 = 0x0123456789abcdefn,
      x4 = 0x1122334455667788n;
    put(0, x2, 1);
    put(2, x2, 2);
    put(4, x2, 4);
    put(8, x2, 8);
    put(17, x2, 8);
    put(26, 0n, 2);
    put(28, x2, 1);
    put(32, x2, 8);
    put(32, x2, 2); // STR pre-index to +32, then STRH post-index at the same place
    put(40, x2, 8);
    put(48, 0n, 8);
    put(56, x4, 4);
    put(60, x2, 4);
    put(64, x4, 8);
    put(72, x2, 8); // STNP at buf+8+56 = +64
    put(0x50, x4, 4); // STR W register offset: buf+8+0x48
    put(0x53, x2, 2); // STRH at buf+8+0x4d-2
    put(0x58, x2, 4);
    put(0x5c, x4, 4); // STP W at buf+8+0x50
    put(19, x4, 1); // STRB at buf+8+11
    expect(bytes.map((b) => b.toString(16))).toEqual(want.map((b) => b.toString(16)));
    expect(s.x(1)).toBe(buf + 8n);
    expect(s.x(3)).toBe(buf + 56n);
  });

  it('SP as base: pre/post-index writeback of SP, and register 31 as an offset is XZR', () => {
    const s = r.snap('sp');
    const top = r.sym('stack_top');
    expect(s.x(3)).toBe(0xccccddddn);
    expect(s.x(4)).toBe(0xaaaabbbbccccddddn);
    expect(s.x(5)).toBe(top);
    expect(s.x(6)).toBe(0xaaaabbbbccccddddn);
    expect(s.x(7)).toBe(top);
    expect(s.sp).toBe(top);
    expect(s.x(8)).toBe(0xbbn); // top-12: byte 4 of the pair's first register
    expect(s.x(9)).toBe(r.mem('stack_top', 0, 8));
  });
});
