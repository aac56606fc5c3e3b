// Floating point at its edges, against QEMU (whose softfloat is the reference): every operation
// over every pair of edge values (±0, ±inf, quiet and signalling NaNs, denormals, the smallest
// and largest normals, values whose sum, product or quotient sits on a rounding boundary or
// overflows or underflows), in all four rounding modes with FZ off and on and DN off and on;
// the 8-bit estimates over every entry of their tables; the result and FPSR are recorded after
// each operation and compared word by word.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleElf } from '../helpers/asm.js';
import { Machine } from '../../src/board/machine.js';
import { parseElf } from '../../src/loader/elf.js';
import { runQemuAsync } from './harness.js';

const S_VALUES = [
  0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00123, 0x7f800001,
  0xff900001, 0x00000001, 0x807fffff, 0x00800000, 0x80800001, 0x7f7fffff, 0xff7ffffe, 0x3f800001, 0x33800000,
  0x34000000, 0x4b7fffff, 0x4f000000, 0xcf000001, 0x5f800000, 0x3effffff, 0x3fc00000, 0x00400000,
];
const D_VALUES = [
  0x0n,
  0x8000000000000000n,
  0x3ff0000000000000n,
  0xbff0000000000000n,
  0x7ff0000000000000n,
  0xfff0000000000000n,
  0x7ff8000000000000n,
  0xfff8000000000123n,
  0x7ff0000000000001n,
  0xfff4000000000001n,
  0x1n,
  0x800fffffffffffffn,
  0x0010000000000000n,
  0x8010000000000001n,
  0x7fefffffffffffffn,
  0xffeffffffffffffen,
  0x3ff0000000000001n,
  0x3ca0000000000000n,
  0x3cb0000000000000n,
  0x433fffffffffffffn,
  0x43e0000000000000n,
  0xc3e0000000000001n,
  0x41f0000000000000n,
  0x3fdfffffffffffffn,
  0x3ff8000000000000n,
  0x0008000000000000n,
];
const INT_VALUES = [
  0n,
  1n,
  0xffffffffffffffffn,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  0x00000000ffffffffn,
  0x000000007fffffffn,
  0x0000000080000000n,
  0x0020000000000001n,
  0x0000000001000001n,
  0xfffffffffeffffffn,
  0x12345678n,
];
/** RMode × FZ × DN: every rounding mode with FZ and DN off, FZ on, DN on, both on. */
const FPCRS = [0, 1, 2, 3].flatMap((rm) => [0, 1, 2, 3].map((k) => (rm << 22) | (k << 24)));

/**
 * For the 8-bit estimates (FRECPE, FRSQRTE, URECPE, URSQRTE): every top-8-bit fraction with an odd
 * and an even biased exponent (their table index), spread over the exponents and both signs; and
 * for single precision every 9-bit top of a 32-bit integer. Run with FPCR 0 and FZ only.
 */
const EST_FPCRS = 2;
function estValues(p: 's' | 'd'): bigint[] {
  const [f, ebits] = p === 's' ? [23n, 8] : [52n, 11];
  const out: bigint[] = [];
  for (let t = 0; t < 256; t++)
    for (const parity of [1, 0]) {
      const exp = BigInt((((t * 37) % ((1 << ebits) - 4)) | 1) + 1 - parity);
      out.push((exp << f) | (BigInt(t) << (f - 8n)) | BigInt((t * 0x9e37) & 0xff));
    }
  if (p === 's') for (let t = 0; t < 512; t++) out.push((BigInt(t) << 23n) | BigInt((t * 0x2f1) & 0x7fffff));
  return out;
}

type Kind = '2' | '1' | '3' | 'cmp' | 'toint' | 'fromint' | 'cvt' | 'est';
interface Op {
  text: string; // with %d, %n, %m, %a placeholders
  kind: Kind;
}

const TWO = ['fadd', 'fsub', 'fmul', 'fdiv', 'fmax', 'fmin', 'fmaxnm', 'fminnm', 'fnmul', 'frecps', 'frsqrts'];
const ONE = [
  'fsqrt',
  'frintn',
  'frintp',
  'frintm',
  'frintz',
  'frinta',
  'frintx',
  'frinti',
  'fabs',
  'fneg',
  'frecpe',
  'frsqrte',
  'frecpx',
];
const THREE = ['fmadd', 'fmsub', 'fnmadd', 'fnmsub'];

function ops(p: 's' | 'd'): Op[] {
  const other = p === 's' ? 'd' : 's';
  return [
    ...TWO.map((o) => ({ text: `${o} ${p}3, ${p}0, ${p}1`, kind: '2' as const })),
    ...ONE.map((o) => ({ text: `${o} ${p}3, ${p}0`, kind: '1' as const })),
    ...THREE.map((o) => ({ text: `${o} ${p}3, ${p}0, ${p}1, ${p}2`, kind: '3' as const })),
    { text: `fcmp ${p}0, ${p}1`, kind: 'cmp' },
    { text: `fcmpe ${p}0, ${p}1`, kind: 'cmp' },
    { text: `fcvt ${other}3, ${p}0`, kind: 'cvt' },
    { text: `fcvt h3, ${p}0`, kind: 'cvt' },
    ...['fcvtns', 'fcvtps', 'fcvtms', 'fcvtzs', 'fcvtas', 'fcvtnu', 'fcvtzu', 'fcvtau'].flatMap((o) => [
      { text: `${o} x3, ${p}0`, kind: 'toint' as const },
      { text: `${o} w3, ${p}0`, kind: 'toint' as const },
    ]),
    { text: `fcvtzs x3, ${p}0, #10`, kind: 'toint' },
    { text: `fcvtzu w3, ${p}0, #31`, kind: 'toint' },
    { text: `scvtf ${p}3, x0`, kind: 'fromint' },
    { text: `ucvtf ${p}3, x0`, kind: 'fromint' },
    { text: `scvtf ${p}3, w0`, kind: 'fromint' },
    { text: `ucvtf ${p}3, x0, #7`, kind: 'fromint' },
    { text: `frecpe ${p}3, ${p}0`, kind: 'est' },
    { text: `frsqrte ${p}3, ${p}0`, kind: 'est' },
    ...(p === 's'
      ? [
          { text: 'urecpe v3.2s, v0.2s', kind: 'est' as const },
          { text: 'ursqrte v3.2s, v0.2s', kind: 'est' as const },
        ]
      : []),
  ];
}

/** How many operands and FPCR values an operation runs over. */
function extent(p: 's' | 'd', op: Op): { count: number; pairs: boolean; fpcrs: number } {
  const n = (p === 's' ? S_VALUES : D_VALUES).length;
  const pairs = op.kind === '2' || op.kind === '3' || op.kind === 'cmp';
  const count = op.kind === 'fromint' ? INT_VALUES.length : op.kind === 'est' ? estValues(p).length : n;
  return { count, pairs, fpcrs: op.kind === 'est' ? EST_FPCRS : FPCRS.length };
}

/**
 * One loop per operation over FPCR × a × b (× the addend for fused ops, b's neighbour): set FPCR,
 * clear FPSR, run it, store the result (D or X register, or NZCV) and FPSR. Then print them all.
 */
function program(p: 's' | 'd'): { source: string; cases: number } {
  const values = p === 's' ? S_VALUES.map(BigInt) : D_VALUES;
  const n = values.length;
  const size = p === 's' ? 2 : 3;
  let cases = 0;
  const body: string[] = [];
  ops(p).forEach((op, k) => {
    const { count, pairs, fpcrs } = extent(p, op);
    cases += fpcrs * count * (pairs ? n : 1);
    body.push(
      `op${k}:`,
      '\tmov x10, #0',
      `1:\tldr x12, [x22, x10, lsl #3]`,
      '\tmov x13, #0',
      `2:\tmov x14, #${pairs ? 0 : n - 1}`,
      op.kind === 'fromint'
        ? '\tldr x0, [x23, x13, lsl #3]'
        : `\tldr ${p}0, [${op.kind === 'est' ? 'x19' : 'x20'}, x13, lsl #${size}]`,
      `3:\tldr ${p}1, [x20, x14, lsl #${size}]`,
      '\tadd x15, x14, #1',
      `\tcmp x15, #${n}`,
      '\tcsel x15, x15, xzr, lt',
      `\tldr ${p}2, [x20, x15, lsl #${size}]`,
      '\tmsr fpcr, x12',
      '\tmsr fpsr, xzr',
      `\t${op.text}`,
      '\tmrs x16, fpsr',
      op.kind === 'cmp' ? '\tmrs x3, nzcv' : op.kind === 'toint' ? '' : '\tfmov x3, d3',
      '\tstp x3, x16, [x21], #16',
      '\tadd x14, x14, #1',
      `\tcmp x14, #${n}`,
      '\tb.lt 3b',
      '\tadd x13, x13, #1',
      `\tcmp x13, #${count}`,
      '\tb.lt 2b',
      '\tadd x10, x10, #1',
      `\tcmp x10, #${fpcrs}`,
      '\tb.lt 1b',
    );
  });
  const source = [
    '#include "virt.inc"',
    '\t.text',
    '\t.global _start',
    '_start:',
    '\tldr x24, =UART_BASE',
    '\tldr x20, =values',
    '\tldr x21, =results',
    '\tldr x22, =fpcrs',
    '\tldr x23, =ints',
    '\tldr x19, =estvalues',
    ...body,
    'print_results:',
    '\tmsr fpcr, xzr',
    '\tldr x20, =results',
    `\tldr x21, =${cases * 2}`,
    '4:\tldr x22, [x20], #8',
    '\tmov x23, #60',
    '5:\tlsr x25, x22, x23',
    '\tand x25, x25, #0xf',
    '\tcmp x25, #10',
    '\tadd x26, x25, #87',
    '\tadd x25, x25, #48',
    '\tcsel x25, x25, x26, lo',
    '\tstrb w25, [x24]',
    '\tsubs x23, x23, #4',
    '\tb.ge 5b',
    '\tmov w25, #10',
    '\tstrb w25, [x24]',
    '\tsubs x21, x21, #1',
    '\tb.ne 4b',
    '\tSEMIHOSTING_EXIT',
    '\t.ltorg',
    '\t.data',
    '\t.balign 8',
    `values: ${p === 's' ? '.word' : '.quad'} ${values.map((v) => `0x${v.toString(16)}`).join(', ')}`,
    '\t.balign 8',
    `fpcrs: .quad ${FPCRS.join(', ')}`,
    `ints: .quad ${INT_VALUES.map((v) => `0x${v.toString(16)}`).join(', ')}`,
    '\t.balign 8',
    `estvalues: ${p === 's' ? '.word' : '.quad'} ${estValues(p)
      .map((v) => `0x${v.toString(16)}`)
      .join(', ')}`,
    '\t.bss',
    '\t.balign 16',
    `results: .skip ${cases * 16}`,
  ].join('\n');
  return { source: `${source}\n`, cases };
}

/** The case of result word `i`: its operation, FPCR and operand indices. */
function describeCase(p: 's' | 'd', word: number): string {
  const n = (p === 's' ? S_VALUES : D_VALUES).length;
  let i = Math.floor(word / 2);
  for (const op of ops(p)) {
    const { count, pairs, fpcrs } = extent(p, op);
    const per = fpcrs * count * (pairs ? n : 1);
    if (i < per) {
      const fpcr = FPCRS[Math.floor(i / (count * (pairs ? n : 1)))]!;
      const rest = i % (count * (pairs ? n : 1));
      const a = pairs ? Math.floor(rest / n) : rest;
      const b = pairs ? rest % n : n - 1;
      return `${op.text} with fpcr 0x${fpcr.toString(16)}, operands #${a} #${b} (${word % 2 ? 'FPSR' : 'result'})`;
    }
    i -= per;
  }
  return `word ${word}`;
}

describe('floating point at the edges: hypstep as QEMU', () => {
  for (const p of ['s', 'd'] as const) {
    it(`${p === 's' ? 'single' : 'double'} precision: every operation, edge operand and FPCR; result and FPSR`, async () => {
      const { source, cases } = program(p);
      const dir = mkdtempSync(join(tmpdir(), 'hypstep-fpedge-'));
      try {
        const elf = join(dir, 'fp.elf');
        const bytes = assembleElf(source);
        writeFileSync(elf, bytes);
        const qemuRun = runQemuAsync(elf, 240_000);
        // hypstep runs to the printing loop; its results are read from memory (QEMU prints them).
        const m = new Machine({ memory: 64 * 1024 * 1024 });
        const image = parseElf(bytes);
        m.load(image);
        const at = (name: string): bigint => image.symbols.find((s) => s.name === name)!.value;
        m.cpu.debug.breakpoints.add(at('print_results'));
        // In slices, yielding between them: a long synchronous run stalls the vitest worker's messages.
        let stop = m.run(1_000_000).kind;
        while (stop === 'budget') {
          await new Promise((r) => setImmediate(r));
          stop = m.run(1_000_000).kind;
        }
        expect(stop).toBe('breakpoint');
        const base = Number(at('results'));
        const ours = Array.from({ length: cases * 2 }, (_, i) =>
          m.bus
            .read(base + 8 * i, 8)
            .toString(16)
            .padStart(16, '0'),
        );
        const want = (await qemuRun).split('\n');
        expect(want.length).toBe(cases * 2 + 1);
        const diffs: string[] = [];
        for (let i = 0; i < cases * 2 && diffs.length < 10; i++)
          if (ours[i] !== want[i]) diffs.push(`${describeCase(p, i)}: QEMU ${want[i]} hypstep ${ours[i]}`);
        expect(diffs).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 600_000);
  }
});
