// Faults raised by loads and stores on hypstep: alignment faults (SCTLR_EL2.A, and the
// exclusives and acquire/release forms that are always checked), SP alignment faults
// (SCTLR_EL2.SA), and UNDEFINED for the CONSTRAINED UNPREDICTABLE register overlaps,
// where the assembler's "unpredictable" warnings are the oracle for which are which.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '../helpers/tools.js';
import { runLs, ESR, DATA, type LsRun } from './loadstore-harness.js';

/** [label, instruction, fault expected]: 'A' alignment, 'SP' SP alignment, '' none. */
const ALIGN: [string, string, 'read' | 'write' | 'SP' | ''][] = [
  // SCTLR_EL2.A = 1
  ['a0', 'ldr x3, [x2, #4]', 'read'],
  ['a1', 'str w3, [x2, #2]', 'write'],
  ['a2', 'ldrb w4, [x2, #3]', ''],
  ['a3', 'ldrh w5, [x2, #1]', 'read'],
  ['a4', 'ldp x6, x7, [x2, #8]', ''],
  ['a5', 'ldp w6, w7, [x8]', 'read'],
  ['a6', 'stur x6, [x2, #-1]', 'write'],
  ['a7', 'ldr w6, [x2, x9]', 'read'],
  ['a8', 'ldrsw x6, [x2, #4]', ''],
  ['a9', 'msr sctlr_el2, x20', ''],
  // SCTLR_EL2.A = 0: exclusives and acquire/release are still checked, pairs against the pair's size
  ['e0', 'ldxr x9, [x8]', 'read'],
  ['e1', 'ldxp x9, x11, [x10]', 'read'],
  ['e2', 'ldxp w9, w11, [x10]', ''],
  ['e3', 'stxr w12, x9, [x8]', 'write'],
  ['e4', 'stxp w12, w9, w11, [x8]', 'write'],
  ['e5', 'ldar w13, [x8]', 'read'],
  ['e6', 'stlrh w13, [x14]', 'write'],
  ['e7', 'ldaxrb w15, [x14]', ''],
  ['e8', 'ldaxrh w15, [x8]', ''],
  ['e9', 'ldr x15, [x8]', ''],
  // SCTLR_EL2.SA = 1, SP = 8 (mod 16)
  ['s0', 'msr sctlr_el2, x21', ''],
  ['s1', 'ldr x16, [sp]', 'SP'],
  ['s2', 'prfm pldl1keep, [sp]', ''],
  ['s3', 'ldr x16, [x1]', ''],
  ['s4', 'stp x1, x2, [sp, #8]', 'SP'],
  ['s5', 'ldrb w16, [sp, x17]', 'SP'],
  ['s6', 'add sp, sp, #8', ''],
  ['s7', 'ldr x17, [sp, #8]', ''],
  ['s8', 'ldxr x17, [sp]', ''],
  ['s9', 'str x17, [sp, #-8]!', ''],
  ['s10', 'ldr x17, [sp], #8', 'SP'],
  ['s11', 'msr sctlr_el2, x20', ''],
  ['s12', 'ldr x18, [sp]', ''],
];

const ALIGN_PROGRAM = `
	mrs x20, sctlr_el2
	orr x21, x20, #8         // SCTLR_EL2.SA
	orr x22, x20, #2         // SCTLR_EL2.A
	ldr x2, =data
	add x8, x2, #2
	mov x9, #1
	add x10, x2, #8
	add x14, x2, #1
	mov x12, #0x77
	ldr x1, =stack_top - 8
	mov sp, x1
	mov x17, #0
	msr sctlr_el2, x22
${ALIGN.map(([l, i]) => `${l}:\t${i}`).join('\n')}
snap_align:
${DATA}`;

/** The CONSTRAINED UNPREDICTABLE candidates, with controls that are fine. x1 = x2 = x3 = buf before each. */
const OVERLAP = [
  'ldr x1, [x1], #8',
  'ldr x1, [x1, #8]!',
  'str x1, [x1, #8]!',
  'strb w1, [x1], #1',
  'ldrsw x1, [x1, #4]!',
  'ldtr x1, [x1, #8]',
  'ldr x1, [x1, #8]',
  'ldr x1, [x2, #8]!',
  'ldrh w2, [x2], #2',
  'ldp x1, x1, [x2]',
  'ldp x1, x2, [x1], #16',
  'ldp x2, x1, [x1, #16]!',
  'stp x1, x2, [x1, #16]!',
  'stp x1, x2, [x1, #16]',
  'ldpsw x3, x3, [x2]',
  'ldnp x1, x1, [x2]',
  'stnp x1, x1, [x2]',
  'ldp x1, x2, [x3], #16',
  'stxr w1, x1, [x2]',
  'stxr w2, x1, [x2]',
  'stxr w3, x1, [x2]',
  'stxp w1, x1, x3, [x2]',
  'stxp w3, x1, x3, [x2]',
  'stxp w4, x1, x3, [x2]',
  'ldxp x1, x1, [x2]',
  'ldaxp x1, x3, [x2]',
  'stlxr w4, w4, [x2]',
  'stlxrb w2, w1, [x2]',
  'stlr x1, [x1]',
  'ldar x1, [x1]',
  'ldxr x2, [x2]',
];

const OVERLAP_PROGRAM = `
${OVERLAP.map((insn, i) => `\tldr x1, =buf\n\tmov x2, x1\n\tmov x3, x1\nu${i}:\t${insn}\nsnap_u${i}:`).join('\n')}
${DATA}`;

/** Which lines the assembler warns are unpredictable. */
function assemblerWarnings(lines: string[]): Set<number> {
  requireTool('aarch64-linux-gnu-as');
  const dir = mkdtempSync(join(tmpdir(), 'hypstep-ls-'));
  try {
    writeFileSync(join(dir, 'u.s'), lines.join('\n') + '\n');
    const out = execFileSync('sh', ['-c', `aarch64-linux-gnu-as -o ${join(dir, 'u.o')} ${join(dir, 'u.s')} 2>&1`], {
      encoding: 'utf8',
    });
    const warned = new Set<number>();
    for (const m of out.matchAll(/u\.s:(\d+): Warning: unpredictable/g)) warned.add(Number(m[1]) - 1);
    return warned;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('load/store faults', () => {
  let r: LsRun;
  let u: LsRun;
  beforeAll(() => {
    r = runLs(ALIGN_PROGRAM);
    u = runLs(OVERLAP_PROGRAM);
  });

  it('alignment and SP alignment faults: exactly where expected, with ESR, FAR and ELR', () => {
    const data = r.sym('data');
    const expected = ALIGN.filter(([, , f]) => f !== '').map(([label, insn, f]) => {
      const elr = r.sym(label);
      if (f === 'SP') return { insn, esr: ESR.SP_ALIGN, elr };
      // The faulting address: every case above computes it from x2 = data, x8 = data+2, x14 = data+1.
      const far = {
        a0: data + 4n,
        a1: data + 2n,
        a3: data + 1n,
        a5: data + 2n,
        a6: data - 1n,
        a7: data + 1n,
        e0: data + 2n,
        e1: data + 8n,
        e3: data + 2n,
        e4: data + 2n,
        e5: data + 2n,
        e6: data + 1n,
      }[label]!;
      return { insn, esr: ESR.alignment(f === 'write'), far, elr };
    });
    const got = r.taken.map((t, i) => {
      const e = expected[i];
      const insn = ALIGN.find(([l]) => r.sym(l) === t.elr)?.[1] ?? `?${t.elr.toString(16)}`;
      return e !== undefined && 'far' in e
        ? { insn, esr: t.esr, far: t.far, elr: t.elr }
        : { insn, esr: t.esr, elr: t.elr };
    });
    expect(got).toEqual(expected);
  });

  it('a faulting load leaves its registers, a faulting store-exclusive its status register', () => {
    const s = r.snap('align');
    expect(s.x(3)).toBe(0n);
    expect(s.x(12)).toBe(0x77n);
    expect(s.x(9)).not.toBe(1n); // e2 loaded (ldxp w9, w11), e0/e1 did not
    expect(s.x(9)).toBe(r.mem('data', 8, 4));
  });

  it('the CONSTRAINED UNPREDICTABLE overlaps the assembler warns about are UNDEFINED; the rest execute', () => {
    const warned = assemblerWarnings(OVERLAP);
    expect(warned.size).toBeGreaterThan(10);
    const undef = new Set<number>();
    for (const t of u.taken) {
      const i = OVERLAP.findIndex((_, k) => u.sym(`u${k}`) === t.elr);
      expect([i, t.esr]).toEqual([i, ESR.UNDEFINED]);
      undef.add(i);
    }
    const show = (s: Set<number>) => [...s].sort((a, b) => a - b).map((i) => OVERLAP[i]);
    expect(show(undef)).toEqual(show(warned));
  });

  it('an UNDEFINED overlap changes no register', () => {
    const i = OVERLAP.indexOf('ldr x1, [x1, #8]!');
    expect(u.snap(`u${i}`).x(1)).toBe(u.sym('buf'));
    const j = OVERLAP.indexOf('ldp x1, x2, [x1], #16');
    expect(u.snap(`u${j}`).x(2)).toBe(u.sym('buf'));
  });
});
