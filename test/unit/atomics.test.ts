// FEAT_LSE and FEAT_CRC32 inside hypstep: the disassembly of every form against objdump (encodings
// from the assembler), what an atomic raises to the world layer's watched memory and to a debugger's
// watchpoints, that an atomic which faults writes nothing, and CRC32/CRC32C against their published
// check values and against QEMU. The atomics' results against QEMU: atomics-qemu.test.ts,
// loadstore-stage2.test.ts, test/diff, test/smp.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '../helpers/tools.js';
import { disassemble } from '../../src/cpu/disasm.js';
import type { MemoryAccessed } from '../../src/cpu/events.js';
import { runLs } from './loadstore-harness.js';
import { Machine } from '../../src/board/machine.js';
import { assemble, assembleElf, program } from '../helpers/asm.js';
import { runSourceOnBoth } from '../helpers/both.js';
import { stage2Setup, vcpuWorld, S2_TABLE, VCPU } from '../world/snippets.js';
import { copyAccess } from '../helpers/events.js';

const OPS = ['add', 'clr', 'eor', 'set', 'smax', 'smin', 'umax', 'umin'];
const ORDERS = ['', 'a', 'l', 'al'];

/** Every LSE form (each operation, size and ordering, the aliases, SP and ZR operands) and every CRC32 form. */
function corpus(): string[] {
  const out: string[] = [];
  for (const o of ORDERS) {
    for (const [sfx, x] of [
      ['b', false],
      ['h', false],
      ['', false],
      ['', true],
    ] as const) {
      const r = (n: number) => (n === 31 ? (x ? 'xzr' : 'wzr') : `${x ? 'x' : 'w'}${n}`);
      for (const op of OPS) {
        out.push(`ld${op}${o}${sfx} ${r(1)}, ${r(2)}, [x3]`, `ld${op}${o}${sfx} ${r(31)}, ${r(31)}, [sp]`);
        if (!o.includes('a')) out.push(`st${op}${o}${sfx} ${r(4)}, [x5]`);
      }
      out.push(`swp${o}${sfx} ${r(6)}, ${r(31)}, [x7]`, `swp${o}${sfx} ${r(0)}, ${r(30)}, [sp]`);
      out.push(`cas${o}${sfx} ${r(8)}, ${r(9)}, [x10]`, `cas${o}${sfx} ${r(31)}, ${r(31)}, [sp]`);
    }
    for (const x of [false, true]) {
      const r = (n: number) => (n === 31 ? (x ? 'xzr' : 'wzr') : `${x ? 'x' : 'w'}${n}`);
      out.push(
        `casp${o} ${r(0)}, ${r(1)}, ${r(2)}, ${r(3)}, [x4]`,
        `casp${o} ${r(30)}, ${r(31)}, ${r(28)}, ${r(29)}, [sp]`,
      );
    }
  }
  for (const c of ['', 'c'])
    out.push(
      `crc32${c}b w0, w1, w2`,
      `crc32${c}h w3, wzr, w4`,
      `crc32${c}w wzr, w5, w6`,
      `crc32${c}x w7, w8, x9`,
      `crc32${c}x w10, w11, xzr`,
    );
  return out;
}

describe('disassembly of FEAT_LSE and FEAT_CRC32 against objdump', () => {
  it('prints every form as objdump does, including the ST<op> aliases', () => {
    requireTool('aarch64-linux-gnu-objdump');
    const lines = corpus();
    // The words objdump calls unallocated: CASP with an odd register, CAS/CASP with Rt2 != 11111, CRC32X with sf=0.
    const undefinedWords = [0x08207c01, 0x48607c01, 0x48217c00, 0x88a07801, 0x1ac24c20];
    const src = `.arch armv8.1-a+crc\n.text\n.global _start\n_start:\n${lines.join('\n')}\n${undefinedWords.map((w) => `.inst 0x${w.toString(16)}`).join('\n')}\n`;
    const dir = mkdtempSync(join(tmpdir(), 'hypstep-lse-'));
    let dump: string;
    try {
      writeFileSync(join(dir, 'c.elf'), assembleElf(src));
      dump = execFileSync('aarch64-linux-gnu-objdump', ['-d', join(dir, 'c.elf')], { encoding: 'utf8' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const rows = dump
      .split('\n')
      .map((l) => /^\s*([0-9a-f]+):\s+([0-9a-f]{8})\s+(.*)$/.exec(l))
      .filter((m) => m !== null);
    expect(rows.length).toBe(lines.length + undefinedWords.length);
    const norm = (t: string) => t.replace(/\s+/g, ' ').trim();
    const diffs = rows.flatMap(([, addr, word, text]) => {
      const ours = norm(disassemble(Number.parseInt(word!, 16), BigInt(`0x${addr}`)));
      return ours === norm(text!) ? [] : [`${word}: objdump '${norm(text!)}' hypstep '${ours}'`];
    });
    expect(diffs).toEqual([]);
    // The aliases really were printed as such, and the carve-outs as undefined.
    // 64 written as ST<op>, 64 written as LD<op> with Rt = ZR and no acquire.
    expect(rows.filter(([, , , t]) => /^st(add|clr|eor|set|smax|smin|umax|umin)/.test(t!)).length).toBe(128);
    expect(rows.filter(([, , , t]) => t!.includes('undefined')).length).toBe(undefinedWords.length);
  });
});

describe('an atomic is both a read and a write', () => {
  it("raises a read and then a write of a watched slot (the world layer's events), with the old and new values", () => {
    const events: MemoryAccessed[] = [];
    const run = runLs(
      `	.arch armv8.1-a
	adr x3, cell
	ldr x1, =0x1111111122222222
	ldr x2, =0x3333333344444444
	stp x1, x2, [x3]
	mov x4, #0x10
	ldaddal x4, x5, [x3]          // read 0x1111111122222222, write it + 0x10
	mov x7, #1
	casa x7, x6, [x3]             // the compare fails: a read only
	ldp x8, x9, [x3]
	casp x8, x9, x4, x5, [x3]     // both halves match: two reads, then two writes
	ldr x11, [x3, #8]
	stclrh w11, [x3]              // a halfword, whose bits 0x2222 are already clear: still written
	.data
	.balign 16
cell:	.quad 0, 0
	.text`,
      1_000_000,
      (m, sym) => {
        m.cpu.watchPhys(Number(sym('cell')), 16);
        m.cpu.observer = { memoryAccessed: (e) => events.push(copyAccess(e)) };
      },
    );
    const cell = Number(run.sym('cell'));
    const seen = events.map(
      (e) => `${e.write ? 'W' : 'R'}${e.pa - cell}:${e.size} ${e.value.toString(16)}/${e.before.toString(16)}`,
    );
    expect(seen).toEqual([
      'W0:8 1111111122222222/0', // the STP
      'W8:8 3333333344444444/0',
      'R0:8 1111111122222222/1111111122222222', // LDADDAL
      'W0:8 1111111122222232/1111111122222222',
      'R0:8 1111111122222232/1111111122222232', // CASA, failing
      'R0:8 1111111122222232/1111111122222232', // the LDP
      'R8:8 3333333344444444/3333333344444444',
      'R0:8 1111111122222232/1111111122222232', // CASP
      'R8:8 3333333344444444/3333333344444444',
      'W0:8 10/1111111122222232',
      'W8:8 1111111122222222/3333333344444444',
      'R8:8 1111111122222222/1111111122222222', // the LDR
      'R0:2 10/10', // STCLRH
      'W0:2 10/10',
    ]);
    expect(run.x(7)).toBe(0x1111111122222232n);
    expect([run.x(8), run.x(9)]).toEqual([0x1111111122222232n, 0x3333333344444444n]);
    expect(run.mem('cell', 0, 16)).toBe((0x1111111122222222n << 64n) | 0x10n);
  });

  it("stops at a debugger's read or write watchpoint before the atomic, which then has not happened", () => {
    for (const type of ['rwatch', 'watch'] as const) {
      const run = runLs(
        `	.arch armv8.1-a
	adr x3, cell
	mov x1, #5
	ldadd x1, x2, [x3]
	.data
	.balign 16
cell:	.quad 7
	.text`,
        1_000_000,
        (m, sym) => {
          const at = sym('cell');
          m.cpu.debug.watching = true;
          m.cpu.debug.watch = (va, size, write) =>
            va <= at && at < va + BigInt(size) && write === (type === 'watch') ? { type, addr: va } : null;
        },
        (m, r) => {
          expect(r).toMatchObject({ kind: 'watchpoint', type });
          expect(m.bus.read(Number(m.cpu.x[3]), 8)).toBe(7n); // nothing written
          expect(m.cpu.x[2]).toBe(0n);
          m.cpu.debug.watching = false;
        },
      );
      expect(run.mem('cell', 0, 8)).toBe(12n);
      expect(run.x(2)).toBe(7n);
    }
  });
});

describe("the world layer sees an atomic on a vcpu's memory as a read and a write", () => {
  it('a flag set and cleared by atomics is a load and a put; an atomic on a live slot is a stale read and a lost write', () => {
    // A hypervisor keeps SCTLR_EL1 in vcpu+0 and its loaded flag in vcpu+8; it sets the flag with
    // STSETL, enters the guest, which changes SCTLR_EL1; at the exit it adds 0 to the slot with
    // LDADDAL (reading the stale value and writing it back over the live register's slot), saves
    // the register, and clears the flag with SWPL.
    const src = `	.arch armv8.1-a
${stage2Setup('((1 << 0) | (1 << 31))')}
	adr	x20, vcpu
	add	x21, x20, #8
	ldr	x1, [x20]
	msr	sctlr_el1, x1
	mov	x1, #1
load_flag:
	stsetl	x1, [x21]
	adr	x0, guest
	msr	elr_el2, x0
	mov	x0, #0x3c5
	msr	spsr_el2, x0
	eret
guest:
	ldr	x3, =0x30d00805
	msr	sctlr_el1, x3
	hvc	#0
	.balign 2048
vectors:
	.skip	0x400
stale:
	ldaddal	xzr, x4, [x20]
	mrs	x1, sctlr_el1
	str	x1, [x20]
put_flag:
	swpl	xzr, x5, [x21]
	b	__end
${VCPU}
${S2_TABLE}
`;
    const image = assemble(`.text\n.global _start\n_start:\n${src}\n__end:\n\tb __end\n`);
    const m = new Machine({ memory: 64 * 1024 * 1024, uartOut: () => {} });
    m.load(image);
    const sym = (n: string) => image.symbols.find((e) => e.name === n)!.value;
    const w = vcpuWorld(m);
    w.stop = () => {};
    m.cpu.debug.breakpoints.add(sym('__end'));
    expect(m.run(1_000_000)).toEqual({ kind: 'breakpoint', pc: sym('__end') });
    expect(w.recent.loadPut.toArray().map((r) => [r.type, r.pc])).toEqual([
      ['load', sym('load_flag')],
      ['put', sym('put_flag')],
    ]);
    expect(w.recent.hazards.toArray().map((h) => [h.kind, h.reg, h.pc, h.memory, h.cpu])).toEqual([
      ['stale-read', 'SCTLR_EL1', sym('stale'), 0x30d00800n, 0x30d00805n],
      ['lost-write', 'SCTLR_EL1', sym('stale'), 0x30d00800n, 0x30d00805n],
    ]);
    expect(m.cpu.x[5]).toBe(1n); // SWPL returned the flag it cleared
  });
});

describe('an atomic that faults writes nothing', () => {
  it('misaligned across a page boundary: an alignment fault (WnR=0), both pages untouched', () => {
    const run = runLs(
      `	.arch armv8.1-a
	adr x3, page
	add x3, x3, #4092
	mov x1, #-1
	ldr x4, =0x0102030405060708
	str x4, [x3]                  // a plain store may cross
	swpal x1, x2, [x3]
	casp w4, w5, w6, w7, [x3]
	stadd x1, [x3]
	.data
	.balign 4096
page:	.fill 8192, 1, 0
	.text`,
    );
    expect(run.taken.map((t) => t.esr.toString(16))).toEqual(['96000021', '96000021', '96000021']);
    expect(run.taken.map((t) => t.far)).toEqual(Array(3).fill(run.sym('page') + 4092n));
    expect(run.mem('page', 4092, 8)).toBe(0x0102030405060708n);
    expect(run.x(2)).toBe(0n);
  });
});

describe('CRC32 and CRC32C', () => {
  it('give the published check values over "123456789" (pre- and post-inverted as the standards use them)', () => {
    const run = runLs(
      `	.arch armv8-a+crc
	adr x3, msg
	ldr x4, [x3]                  // "12345678" as one doubleword
	ldrb w5, [x3, #8]             // "9"
	mov w0, #-1
	crc32x w0, w0, x4
	crc32b w0, w0, w5
	mvn w0, w0
	mov w1, #-1                   // the same bytes through the B, H and W forms
	ldr w6, [x3]
	crc32cw w1, w1, w6
	ldrh w6, [x3, #4]
	crc32ch w1, w1, w6
	ldrb w6, [x3, #6]
	crc32cb w1, w1, w6
	ldrb w6, [x3, #7]
	crc32cb w1, w1, w6
	crc32cb w1, w1, w5
	mvn w1, w1
	.data
msg:	.ascii "123456789"
	.text`,
    );
    expect(run.x(0)).toBe(0xcbf43926n); // CRC-32 (ISO-HDLC)
    expect(run.x(1)).toBe(0xe3069283n); // CRC-32C (Castagnoli)
  });
});

describe('CRC32 and CRC32C against QEMU', () => {
  it('every form over accumulators and values at the edges prints the same results on both', () => {
    const values = [
      0n,
      1n,
      0x80n,
      0xffn,
      0x8000n,
      0xffffn,
      0x8000_0000n,
      0xffff_ffffn,
      0x8000_0000_0000_0000n,
      0xffff_ffff_ffff_ffffn,
      0x0123_4567_89ab_cdefn,
      0xfedc_ba98_7654_3210n,
    ];
    const lines: string[] = [];
    for (const c of ['', 'c'])
      for (const sz of ['b', 'h', 'w', 'x'])
        for (const [i, acc] of values.entries()) {
          const val = values[(i * 5 + 3) % values.length]!;
          // The accumulator's upper half must not matter: it is given junk there.
          lines.push(
            `movq x1, 0x${(acc | 0xdead_0000_0000_0000n).toString(16)}`,
            `movq x2, 0x${val.toString(16)}`,
            `crc32${c}${sz} w0, w1, ${sz === 'x' ? 'x' : 'w'}2`,
            'mov x20, x0',
            'bl puthex',
          );
        }
    const source = program(`	.arch armv8-a+crc
	ldr x24, =UART_BASE
${lines.map((l) => `\t${l}`).join('\n')}
	SEMIHOSTING_EXIT
puthex:
	UART_HEX 24, 20, 21, 22, 23
	mov w22, #10
	strb w22, [x24]
	ret
`);
    const { qemu: q, hypstep: h } = runSourceOnBoth(source);
    expect(h.stop).toBe('exit');
    expect(q.stdout.split('\n')).toHaveLength(2 * 4 * values.length + 1);
    expect(h.stdout).toBe(q.stdout);
  });
});
