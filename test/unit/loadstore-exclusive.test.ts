// The local exclusive monitor through LDXR/STXR and friends: a store-exclusive succeeds
// (Ws = 0, memory written) only when the reservation of the last load-exclusive of the
// same address and size is still open, and fails (Ws = 1, memory untouched) after a
// successful or failed store-exclusive, an intervening store to the reserved bytes,
// CLREX, or an exception. Expected values follow the ARM ARM's
// AArch64.ExclusiveMonitorsPass; the sequences that QEMU also models (those where the
// intervening store changes the value) are compared with it in loadstore-qemu.test.ts.
import { describe, it, expect, beforeAll } from 'vitest';
import { runLs, type LsRun } from './loadstore-harness.js';

/** [label, sequence ending in a store-exclusive whose status goes to w5, expected status]. */
const SEQUENCES: [string, string, 0 | 1][] = [
  ['pass', 'ldxr x3, [x1]\n\tstxr w5, x4, [x1]', 0],
  ['twice', 'ldxr x3, [x1]\n\tstxr w6, x4, [x1]\n\tstxr w5, x4, [x1]', 1],
  ['none', 'clrex\n\tstxr w5, x4, [x1]', 1],
  ['store_same', 'ldxr x3, [x1]\n\tstr x3, [x1]', 1], // same value stored back: still clears
  ['store_byte', 'ldxr x3, [x1]\n\tstrb w3, [x1, #7]', 1],
  ['store_before', 'ldxr x3, [x1]\n\tstr x3, [x1, #-8]', 0], // the bytes just below: not the reservation
  ['store_after', 'ldxr x3, [x1]\n\tstr x3, [x1, #8]', 0],
  ['store_overlap', 'ldxr x3, [x1]\n\tstur x3, [x1, #-4]', 1],
  ['load_between', 'ldxr x3, [x1]\n\tldr x6, [x1]\n\tldxr x3, [x1]', 0],
  ['other_address', 'ldxr x3, [x1]\n\tstxr w5, x4, [x2]', 1],
  ['other_size', 'ldxr x3, [x1]\n\tstxr w5, w4, [x1]', 1],
  ['new_reservation', 'ldxr x3, [x2]\n\tldxr x3, [x1]', 0],
  ['old_reservation', 'ldxr x3, [x1]\n\tldxr x3, [x2]\n\tstxr w5, x4, [x1]', 1],
  ['clrex', 'ldxr x3, [x1]\n\tclrex', 1],
  ['hvc', 'ldxr x3, [x1]\n\thvc #0\n\tnop', 1], // the harness vector returns past the nop
  ['svc', 'ldxr x3, [x1]\n\tsvc #0\n\tnop', 1],
  ['undefined', 'ldxr x3, [x1]\n\t.inst 0x00000000', 1],
  ['acquire_release', 'ldaxr x3, [x1]\n\tstlxr w5, x4, [x1]', 0],
  ['byte', 'ldxrb w3, [x7]\n\tstxrb w5, w4, [x7]', 0],
  ['half', 'ldaxrh w3, [x1]\n\tstlxrh w5, w4, [x1]', 0],
  ['word', 'ldxr w3, [x1]\n\tstxr w5, w4, [x1]', 0],
  ['pair_x', 'ldxp x3, x6, [x1]\n\tstxp w5, x4, x8, [x1]', 0],
  ['pair_w', 'ldaxp w3, w6, [x1]\n\tstlxp w5, w4, w8, [x1]', 0],
  ['pair_size', 'ldxp x3, x6, [x1]\n\tstxr w5, x4, [x1]', 1],
  ['pair_store', 'ldxp x3, x6, [x1]\n\tstrb w3, [x1, #15]', 1],
];

/** The store-exclusive that ends a sequence without one. */
const closing = (seq: string): string => (/st(l)?x[rp]/.test(seq.split('\n').pop()!) ? '' : '\n\tstxr w5, x4, [x1]');

const PROGRAM = `
	ldr x1, =ex
	add x2, x1, #16
	add x7, x1, #3
	ldr x4, =0x1111222233334444
	ldr x8, =0x5555666677778888
${SEQUENCES.map(
  ([label, seq]) => `
	ldr x9, =0xa5a5a5a5a5a5a5a5
	stp x9, x9, [x1]
	mov x5, #0x77
	${seq}${closing(seq)}
	ldp x10, x11, [x1]
snap_${label}:`,
).join('\n')}
	.data
	.balign 16
	.quad 0, 0
ex:	.quad 0, 0, 0, 0
	.text
`;

describe('exclusive monitor', () => {
  let r: LsRun;
  beforeAll(() => {
    r = runLs(PROGRAM);
  });

  it('store-exclusive status after each sequence', () => {
    const got = SEQUENCES.map(([label]) => [label, Number(r.snap(label).x(5))]);
    expect(got).toEqual(SEQUENCES.map(([label, , status]) => [label, status]));
  });

  it('memory is written when the store-exclusive passes and untouched when it fails', () => {
    const fill = 0xa5a5a5a5a5a5a5a5n;
    const x4 = 0x1111222233334444n,
      x8 = 0x5555666677778888n;
    const merge = (v: bigint, bytes: number, at: number): bigint => {
      const mask = ((1n << BigInt(8 * bytes)) - 1n) << BigInt(8 * at);
      return (fill & ~mask) | ((v << BigInt(8 * at)) & mask);
    };
    // Failed sequences leave the fill (the intervening stores above write it back unchanged),
    // except 'twice', whose first store-exclusive passed.
    const passed: Record<string, [bigint, bigint]> = {
      pass: [x4, fill],
      acquire_release: [x4, fill],
      word: [merge(x4, 4, 0), fill],
      byte: [merge(x4, 1, 3), fill],
      half: [merge(x4, 2, 0), fill],
      pair_x: [x4, x8],
      pair_w: [((x8 & 0xffff_ffffn) << 32n) | (x4 & 0xffff_ffffn), fill],
      store_before: [x4, fill],
      store_after: [x4, fill],
      load_between: [x4, fill],
      new_reservation: [x4, fill],
      twice: [x4, fill],
    };
    const got = SEQUENCES.map(([label]) => [label, r.snap(label).x(10), r.snap(label).x(11)]);
    expect(got).toEqual(SEQUENCES.map(([label]) => [label, ...(passed[label] ?? [fill, fill])]));
  });

  it('load-exclusives load like loads', () => {
    const fill = 0xa5a5a5a5a5a5a5a5n;
    expect(r.snap('pass').x(3)).toBe(fill);
    expect(r.snap('byte').x(3)).toBe(0xa5n);
    expect(r.snap('half').x(3)).toBe(0xa5a5n);
    expect(r.snap('word').x(3)).toBe(0xa5a5a5a5n);
    expect([r.snap('pair_x').x(3), r.snap('pair_x').x(6)]).toEqual([fill, fill]);
    expect([r.snap('pair_w').x(3), r.snap('pair_w').x(6)]).toEqual([0xa5a5a5a5n, 0xa5a5a5a5n]);
  });

  it('the exceptions in the sequences were taken (HVC, SVC, UNDEFINED) and nothing else', () => {
    expect(r.taken.map((t) => t.esr >>> 26)).toEqual([0x16, 0x15, 0x00]);
  });
});
