// The SIMD&FP disassembly against `aarch64-linux-gnu-objdump -d`, per encoding class: for every
// row of the SIMD&FP table, random words with that row's fixed bits (and any operands), plus a
// corpus the assembler encoded. Words objdump finds unallocated must be UNDEFINED here too.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleElf } from '../helpers/asm.js';
import { requireTool } from '../helpers/tools.js';
import { rng } from '../helpers/xorshift.js';
import { disassemble, decodeA64 } from '../../src/cpu/disasm.js';
import { SIMD_FP } from '../../src/cpu/insn/simd.js';

const CORPUS = [
  'ld1 {v0.16b}, [x0]',
  'ld1 {v0.16b, v1.16b}, [x0]',
  'ld1 {v0.16b, v1.16b, v2.16b}, [x0], #48',
  'ld1 {v30.2d, v31.2d, v0.2d, v1.2d}, [sp], x3',
  'st4 {v0.4s-v3.4s}, [x1]',
  'ld1 {v0.s}[1], [x0], x2',
  'ld3 {v5.h, v6.h, v7.h}[7], [x0], #6',
  'ld1r {v0.4s}, [x0], #4',
  'ld4r {v0.8b-v3.8b}, [x0]',
  'st1 {v31.d}[1], [x0]',
  'ldr q0, [x0, #16]',
  'ldr b0, [x0], #1',
  'str h3, [sp, #-2]!',
  'ldur d1, [x2, #-3]',
  'ldr s1, [x0, x2, lsl #2]',
  'ldr q1, [x0, w2, sxtw]',
  'ldr q1, [x0, w2, uxtw #4]',
  'ldr d2, .',
  'ldp q0, q1, [sp, #-32]!',
  'stnp d0, d1, [x0, #8]',
  'ldp s0, s1, [x0], #8',
  'movi v0.4s, #0x12, lsl #8',
  'movi v0.4s, #0x12, msl #8',
  'movi d0, #0xff00ff00ff00ff00',
  'movi v1.2d, #0xff00ff00ff00ff00',
  'movi v2.16b, #0x7',
  'movi v2.8b, #0x7',
  'movi v3.4h, #0x7, lsl #8',
  'mvni v0.4s, #0x12, lsl #8',
  'orr v0.4s, #0x12, lsl #8',
  'bic v0.8h, #0x12',
  'fmov v0.4s, #1.0',
  'fmov v0.2d, #-0.125',
  'fmov d0, #31.0',
  'fmov s0, w1',
  'fmov d0, x1',
  'fmov x1, d0',
  'fmov v0.d[1], x1',
  'fmov x1, v0.d[1]',
  'fmov w1, s0',
  'fmov s1, s2',
  'umov w0, v1.b[3]',
  'umov w0, v1.s[3]',
  'umov x0, v1.d[1]',
  'smov x0, v1.h[3]',
  'ins v1.s[1], w2',
  'ins v1.s[1], v3.s[0]',
  'dup v0.4s, w1',
  'dup v0.2d, x1',
  'dup v0.8b, v1.b[3]',
  'dup b0, v1.b[3]',
  'mvn v0.16b, v1.16b',
  'mov v0.16b, v1.16b',
  'sshll v0.4s, v1.4h, #0',
  'ushll2 v0.4s, v1.8h, #3',
  'shrn v0.8b, v1.8h, #3',
  'shrn2 v0.16b, v1.8h, #3',
  'ext v0.16b, v1.16b, v2.16b, #3',
  'tbl v0.16b, {v1.16b, v2.16b}, v3.16b',
  'tbx v0.8b, {v1.16b-v4.16b}, v3.8b',
  'cnt v0.8b, v1.8b',
  'rbit v0.16b, v1.16b',
  'rev64 v0.4s, v1.4s',
  'addp d0, v1.2d',
  'addp v0.4s, v1.4s, v2.4s',
  'uminp v0.8b, v1.8b, v2.8b',
  'addv s0, v1.4s',
  'uaddlv h0, v1.16b',
  'cmeq v0.2d, v1.2d, #0',
  'cmeq d0, d1, d2',
  'cmhs v0.16b, v1.16b, v2.16b',
  'ushr d0, d1, #3',
  'sqadd b0, b1, b2',
  'xtn v0.8b, v1.8h',
  'shl v0.2d, v1.2d, #63',
];

const normalize = (t: string): string =>
  t
    .replace(/\s*\/\/.*$/, '')
    .replace(/\s*<[^>]*>/, '')
    .replace(/\s+/g, ' ')
    .trim();

/** objdump's text for each line of `src` (assembled), with its word and address. */
function objdump(src: string): { addr: bigint; raw: number; text: string }[] {
  requireTool('aarch64-linux-gnu-objdump');
  const dir = mkdtempSync(join(tmpdir(), 'hypstep-simd-disasm-'));
  try {
    writeFileSync(join(dir, 'c.elf'), assembleElf(`.text\n.global _start\n_start:\n${src}\n`));
    const dump = execFileSync('aarch64-linux-gnu-objdump', ['-d', join(dir, 'c.elf')], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    return dump
      .split('\n')
      .map((l) => /^\s*([0-9a-f]+):\s+([0-9a-f]{8})\s+(.*)$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => ({ addr: BigInt(`0x${m[1]}`), raw: parseInt(m[2]!, 16), text: normalize(m[3]!) }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const PER_ROW = 150;

/**
 * What objdump knows from extensions this PE does not implement (ID registers say so), which
 * must be UNDEFINED here: FEAT_FP16 half-precision arithmetic and moves, FEAT_JSCVT, the dot
 * products, complex numbers, RDM, BF16, FHM, the crypto extensions, PMULL of 64-bit elements.
 */
function unimplemented(text: string): boolean {
  const [mn, ops = ''] =
    text.split(' ', 2).length === 2 ? [text.split(' ')[0]!, text.slice(text.indexOf(' '))] : [text];
  if (
    /^(fjcvtzs|frint32[xz]|frint64[xz]|[su]dot|usdot|sudot|fcmla|fcadd|sqrdmlah|sqrdmlsh|bf\w*|fmlal2?|fmlsl2?|aes\w+|sha\w+|sm3\w+|sm4\w+|eor3|bcax|rax1|xar)$/.test(
      mn,
    )
  )
    return true;
  if (mn === 'pmull' || mn === 'pmull2') return ops.includes('.1q');
  const fp = /^(f|[su]cvtf)/.test(mn);
  return fp && /(\bh\d+\b|\.[48]h\b|\.h\[)/.test(ops);
}

describe('SIMD&FP disassembly', () => {
  it('prints what objdump prints for the assembler corpus', () => {
    const lines = objdump(CORPUS.join('\n'));
    expect(lines).toHaveLength(CORPUS.length);
    const diffs = lines.filter((l) => normalize(disassemble(l.raw, l.addr)) !== l.text);
    expect(
      diffs.map((l) => `${l.raw.toString(16)}: objdump '${l.text}' hypstep '${disassemble(l.raw, l.addr)}'`),
    ).toEqual([]);
  });

  it(`every encoding class: ${PER_ROW} random words in each row's pattern print as objdump prints them`, () => {
    const r = rng(0x51d);
    const rows = SIMD_FP.filter((e) => e.carveOut !== true);
    const words = rows.flatMap((e) => Array.from({ length: PER_ROW }, () => ((r() & ~e.mask) | e.value) >>> 0));
    const lines = objdump(words.map((w) => `.inst 0x${w.toString(16)}`).join('\n'));
    expect(lines).toHaveLength(words.length);
    const byClass = new Map<string, string[]>();
    let real = 0;
    for (const l of lines) {
      const ours = normalize(disassemble(l.raw, l.addr));
      if (!l.text.includes('undefined')) real++;
      if (ours === l.text) continue;
      if (unimplemented(l.text) && ours.endsWith('; undefined')) continue;
      const cls = decodeA64(l.raw)?.name ?? 'none';
      const list = byClass.get(cls) ?? [];
      if (list.length < 3) list.push(`${l.raw.toString(16)}: objdump '${l.text}' hypstep '${ours}'`);
      byClass.set(cls, list);
    }
    expect(Object.fromEntries(byClass)).toEqual({});
    expect(real).toBeGreaterThan(words.length / 3);
  });
});
