// Decoding of the whole integer load/store space against the GNU disassembler.
//
// About 2,500 words are built by walking the discriminating fields of every
// load/store group (size, V, opc, the index bits, option/S, the exclusive o2/L/o1/o0)
// with register and immediate fields from a fixed-seed generator. objdump is the oracle:
// where it prints an integer load/store that hypstep implements, our `asm` text must be
// its text; where it prints `undefined`, a SIMD&FP transfer (V=1, not implemented) or an
// instruction of a feature this PE does not advertise (LRCPC, MTE, PAuth, LOR), hypstep must
// decode the word as UNDEFINED. The FEAT_LSE atomics (CAS, CASP, LD<op>, ST<op>, SWP) are implemented.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '../helpers/tools.js';
import { assembleElf } from '../helpers/asm.js';
import { decodeA64, disassemble } from '../../src/cpu/disasm.js';
import { rng } from '../helpers/xorshift.js';

/** Three rounds of the same field walk, with fresh registers and immediates each time. */
function words(): number[] {
  const r = rng(0x10ad5);
  const out: number[] = [];
  for (let round = 0; round < 3; round++) walk(r, (w) => out.push(w >>> 0));
  return out;
}

function walk(r: () => number, push: (w: number) => void): void {
  const reg = () => r() & 31;
  for (let size = 0; size < 4; size++) {
    // Exclusive / ordered: size 001000 o2 L o1 Rs o0 Rt2 Rn Rt, with should-be-one fields set.
    for (let o2LO1 = 0; o2LO1 < 8; o2LO1++) {
      for (let o0 = 0; o0 < 2; o0++) {
        push(
          (size << 30) | (0b001000 << 24) | (o2LO1 << 21) | (31 << 16) | (o0 << 15) | (31 << 10) | (reg() << 5) | reg(),
        );
        // ... and with real registers in the fields that are operands: Rs of a store-exclusive
        // (o2=0, L=0), Rt2 of a pair (o2=0, o1=1); they stay distinct from Rn and Rt.
        const storeEx = (o2LO1 & 0b110) === 0b000,
          pair = (o2LO1 & 0b101) === 0b001;
        const rs = storeEx ? 1 + (r() % 9) : 31,
          rt2 = pair ? 11 + (r() % 9) : 31,
          rn = 21 + (r() % 9),
          rt = 0;
        push((size << 30) | (0b001000 << 24) | (o2LO1 << 21) | (rs << 16) | (o0 << 15) | (rt2 << 10) | (rn << 5) | rt);
      }
    }
    for (let v = 0; v < 2; v++) {
      for (let opc = 0; opc < 4; opc++) {
        const base = (size << 30) | (0b111 << 27) | (v << 26) | (opc << 22);
        // Unsigned offset.
        push(base | (1 << 24) | ((r() & 0xfff) << 10) | (reg() << 5) | reg());
        push(base | (1 << 24) | (reg() << 5) | reg());
        // imm9 forms: unscaled, post-index, unprivileged, pre-index (Rn and Rt kept distinct).
        for (let idx = 0; idx < 4; idx++) {
          const rn = r() % 16,
            rt = 16 + (r() % 16);
          push(base | ((r() & 0x1ff) << 12) | (idx << 10) | (rn << 5) | rt);
        }
        // Register offset, every option and S; bit 21 set with [11:10] = 00 (atomics) and x1 (PAuth).
        for (let option = 0; option < 8; option++) {
          for (let s = 0; s < 2; s++)
            push(base | (1 << 21) | (reg() << 16) | (option << 13) | (s << 12) | (2 << 10) | (reg() << 5) | reg());
        }
        push(base | (1 << 21) | (reg() << 16) | (r() & 0xf000) | (reg() << 5) | reg());
        push(base | (1 << 21) | (reg() << 16) | ((r() & 0x3c) << 10) | (1 << 10) | (reg() << 5) | reg());
      }
    }
  }
  for (let opc = 0; opc < 4; opc++) {
    for (let v = 0; v < 2; v++) {
      // Literal: opc 011 V 00 imm19 Rt (forward and backward).
      push((opc << 30) | (0b011 << 27) | (v << 26) | (0x40 << 5) | reg());
      push((opc << 30) | (0b011 << 27) | (v << 26) | (0x7fff0 << 5) | reg());
      // Pairs: opc 101 V 0 idx L imm7 Rt2 Rn Rt (Rt, Rt2, Rn distinct).
      for (let idx = 0; idx < 4; idx++) {
        for (let l = 0; l < 2; l++) {
          push(
            (opc << 30) |
              (0b101 << 27) |
              (v << 26) |
              (idx << 23) |
              (l << 22) |
              ((r() & 0x7f) << 15) |
              ((10 + (r() % 10)) << 10) |
              ((20 + (r() % 12)) << 5) |
              (r() % 10),
          );
        }
      }
    }
  }
}

const LSE_OPS = ['add', 'clr', 'eor', 'set', 'smax', 'smin', 'umax', 'umin'];

const IMPLEMENTED = new Set([
  ...['', 'b', 'h', 'sb', 'sh', 'sw'].flatMap((s) => [`ldr${s}`, `ldur${s}`, `ldtr${s}`]),
  ...['', 'b', 'h'].flatMap((s) => [
    `str${s}`,
    `stur${s}`,
    `sttr${s}`,
    `ldxr${s}`,
    `stxr${s}`,
    `ldaxr${s}`,
    `stlxr${s}`,
    `ldar${s}`,
    `stlr${s}`,
  ]),
  'prfm',
  'prfum',
  'ldp',
  'stp',
  'ldpsw',
  'ldnp',
  'stnp',
  'ldxp',
  'stxp',
  'ldaxp',
  'stlxp',
  // FEAT_LSE: every ordering and size.
  ...['', 'a', 'l', 'al'].flatMap((o) => [
    `casp${o}`,
    ...['', 'b', 'h'].flatMap((s) => [
      `cas${o}${s}`,
      `swp${o}${s}`,
      ...LSE_OPS.map((op) => `ld${op}${o}${s}`),
      ...(o === '' || o === 'l' ? LSE_OPS.map((op) => `st${op}${o}${s}`) : []),
    ]),
  ]),
]);

/**
 * objdump -d over raw words placed at `_start` in an ELF: [mnemonic, operands] per word, operands
 * without objdump's `<symbol>` annotations and comments (PC-relative targets are then bare hex).
 */
function objdump(list: number[]): { pc: bigint; rows: [string, string][] } {
  requireTool('aarch64-linux-gnu-objdump');
  const dir = mkdtempSync(join(tmpdir(), 'hypstep-ls-'));
  try {
    writeFileSync(
      join(dir, 'w.elf'),
      assembleElf(`.text\n.global _start\n_start:\n${list.map((w) => `.inst 0x${w.toString(16)}`).join('\n')}\n`),
    );
    const text = execFileSync('aarch64-linux-gnu-objdump', ['-d', join(dir, 'w.elf')], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    const rows: [string, string][] = [];
    let pc = -1n;
    for (const line of text.split('\n')) {
      const m = /^\s*([0-9a-f]+):\t[0-9a-f]{8} \t([^\t]+)(?:\t(.*))?$/.exec(line);
      if (!m) continue;
      if (pc < 0n) pc = BigInt(`0x${m[1]}`);
      const ops = (m[3] ?? '')
        .replace(/\s*<[^>]*>/, '')
        .replace(/\s*\/\/.*$/, '')
        .replace(/\s*;.*$/, '')
        .trim();
      rows.push([m[2]!.trim(), ops]);
    }
    expect(rows.length).toBe(list.length);
    return { pc, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('load/store decoding against objdump', () => {
  const list = words();
  const { pc, rows: expected } = objdump(list);

  it('covers the space: both implemented and UNDEFINED words in numbers', () => {
    const implemented = expected.filter(([mn, ops]) => IMPLEMENTED.has(mn) && !/^[bhsdq]\d/.test(ops)).length;
    expect(implemented).toBeGreaterThan(800);
    expect(list.length - implemented).toBeGreaterThan(800);
  });

  it('decodes exactly what objdump calls an integer or SIMD&FP load/store, with its text, and nothing else', () => {
    const wrong: string[] = [];
    list.forEach((w, i) => {
      const [mn, ops] = expected[i]!;
      const at = pc + BigInt(4 * i);
      const e = decodeA64(w);
      const ours = e === undefined || e.name.startsWith('UNALLOCATED') ? 'UNDEFINED' : disassemble(w, at);
      const implemented = IMPLEMENTED.has(mn) || /^(ld|st)[1-4]r?$/.test(mn);
      const want = implemented ? (ops === '' ? mn : `${mn}\t${ops}`) : 'UNDEFINED';
      if (ours !== want)
        wrong.push(`${w.toString(16).padStart(8, '0')}: objdump '${mn} ${ops}' want '${want}' got '${ours}'`);
    });
    expect(wrong).toEqual([]);
  });
});
