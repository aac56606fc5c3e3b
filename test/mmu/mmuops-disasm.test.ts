// TLBI and AT decoding against the GNU disassembler: every op1/CRm/op2 of the TLBI space
// (CRn = 8) and of AT (CRn = 7, CRm = 8). Where objdump names an operation this PE
// implements, our text must be objdump's; the operations objdump names that we do not
// implement (TLBI ...OS and range forms of FEAT_TLBIOS/TLBIRANGE, AT S1E1RP/WP of
// FEAT_PAN2, which sit outside CRm = 8 anyway) must be UNDEFINED here.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '../helpers/tools.js';
import { assembleElf, runSnippet } from '../helpers/asm.js';
import { disassemble } from '../../src/cpu/disasm.js';

function objdump(words: number[]): string[] {
  requireTool('aarch64-linux-gnu-objdump');
  const dir = mkdtempSync(join(tmpdir(), 'hypstep-mmuops-'));
  try {
    writeFileSync(
      join(dir, 'w.elf'),
      assembleElf(`.text\n.global _start\n_start:\n${words.map((w) => `.inst 0x${w.toString(16)}`).join('\n')}\n`),
    );
    const text = execFileSync('aarch64-linux-gnu-objdump', ['-d', join(dir, 'w.elf')], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    const rows: string[] = [];
    for (const line of text.split('\n')) {
      const m = /^\s*[0-9a-f]+:\t[0-9a-f]{8} \t([^\t]+)(?:\t(.*))?$/.exec(line);
      if (m) rows.push(`${m[1]!.trim()}\t${(m[2] ?? '').trim()}`.trim());
    }
    expect(rows.length).toBe(words.length);
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SYS = 0xd508_0000; // SYS #op1, Cn, Cm, #op2, Xt
const sys = (op1: number, crn: number, crm: number, op2: number, rt: number): number =>
  (SYS | (op1 << 16) | (crn << 12) | (crm << 8) | (op2 << 5) | rt) >>> 0;

describe('TLBI and AT against objdump', () => {
  const words: number[] = [];
  for (const op1 of [0, 4])
    for (let crm = 0; crm < 16; crm++)
      for (let op2 = 0; op2 < 8; op2++) words.push(sys(op1, 8, crm, op2, (crm * 8 + op2) % 32));
  for (let op1 = 0; op1 < 8; op1++) for (let op2 = 0; op2 < 8; op2++) words.push(sys(op1, 7, 8, op2, 3 + op2));
  const expected = objdump(words);

  it('prints what objdump prints for every implemented operation, and implements the kernel/KVM set', () => {
    // Unimplemented operations print as objdump prints an unnamed SYS.
    const mine = words.map((w) => disassemble(w, 0x4008_0000n));
    const implemented = mine.map((t, i) => [t, expected[i]!] as const).filter(([t]) => !t.startsWith('sys'));
    expect(implemented.length).toBe(36); // 26 TLBI and 10 AT operations
    for (const [t, e] of implemented) expect(t).toBe(e);
    const names = new Set(implemented.map(([t]) => t.split(/[\t,]/)[1]!.trim()));
    for (const n of [
      'vmalle1is',
      'vae1is',
      'aside1is',
      'vaae1is',
      'vale1is',
      'vaale1is',
      'vmalle1',
      'vae1',
      'aside1',
      'vaae1',
      'vale1',
      'vaale1',
      'ipas2e1is',
      'ipas2le1is',
      'ipas2e1',
      'ipas2le1',
      'vmalls12e1is',
      'vmalls12e1',
      'alle2is',
      'alle2',
      'vae2is',
      'vae2',
      'vale2is',
      'vale2',
      'alle1is',
      'alle1',
      's1e1r',
      's1e1w',
      's1e0r',
      's1e0w',
      's1e2r',
      's1e2w',
      's12e1r',
      's12e1w',
      's12e0r',
      's12e0w',
    ]) {
      expect(names.has(n), n).toBe(true);
    }
  });

  it('executes the operations it does not implement as UNDEFINED (at EL2)', () => {
    const others = words.filter((w) => disassemble(w, 0n).startsWith('sys'));
    expect(others.length).toBeGreaterThan(100);
    // One snippet: each unimplemented word at EL2 must take an exception (EC 0x00) to EL2.
    const body = [
      'adr x0, vec',
      'msr vbar_el2, x0',
      'mov x10, #0',
      ...others.slice(0, 64).map((w) => `.inst 0x${w.toString(16)}`),
      'b __end',
      '.balign 0x800',
      'vec:',
      '.rept 16',
      '.balign 0x80',
      'mrs x1, esr_el2',
      'lsr x1, x1, #26',
      'add x10, x10, x1',
      'add x10, x10, #1',
      'mrs x2, elr_el2',
      'add x2, x2, #4',
      'msr elr_el2, x2',
      'eret',
      '.endr',
    ];
    const r = runSnippet(body.join('\n'));
    expect(r.stop).toBe('end');
    expect(r.machine.cpu.x[10]).toBe(64n); // 64 exceptions, each EC 0
  });
});
