// The program of the FEAT_LSE comparison with QEMU (atomics-qemu.test.ts, and the soak campaign
// test/soak/lse.soak.ts): see atomics-qemu.test.ts for what it runs.
import { program as wholeProgram } from '../helpers/asm.js';
import { runSourceOnBoth } from '../helpers/both.js';
import { armArmEsrLine, EL2_MMU_ON, printing, printQuads, printRegs } from './loadstore-harness.js';
import { rng } from '../helpers/xorshift.js';

const OPS = ['add', 'clr', 'eor', 'set', 'smax', 'smin', 'umax', 'umin'];
const ORDERS = ['', 'a', 'l', 'al'];
/** Access sizes in bytes, by mnemonic suffix. */
const SIZES: [string, number][] = [
  ['b', 1],
  ['h', 2],
  ['', 4],
  ['', 8],
];
const CELLS = 32;

interface Case {
  /** What precedes the instruction: loads that make a CAS match, the base register's setup. */
  setup: string[];
  insn: string;
}

export function atomicsProgram(seed: number): { source: string; cases: Case[] } {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[r() % a.length]!;
  const hex64 = () => `0x${r().toString(16)}${r().toString(16).padStart(8, '0')}`;
  const reg = (n: number, x: boolean) => (n === 31 ? (x ? 'xzr' : 'wzr') : `${x ? 'x' : 'w'}${n}`);
  /** A value register, or now and then the zero register. */
  const val = () => (r() % 8 === 0 ? 31 : r() % 12);
  const load = (bytes: number) => (bytes === 1 ? 'ldrb' : bytes === 2 ? 'ldrh' : 'ldr');

  /**
   * The base: x13 = the cell (x12) + `offset`, or SP when the offset is 0 now and then; `region`
   * moves it to the read-only alias (+2 GiB) or the hole (+1 GiB).
   */
  function base(offset: number, region: 'rw' | 'ro' | 'hole' = 'rw'): { setup: string[]; text: string } {
    const setup = [`add x13, x12, #${offset}`];
    if (region !== 'rw') setup.push(`mov x14, #${region === 'ro' ? '0x80000000' : '0x40000000'}`, 'add x13, x13, x14');
    if (offset === 0 && region === 'rw' && r() % 4 === 0) return { setup: ['mov sp, x12'], text: 'sp' };
    return { setup, text: 'x13' };
  }

  /** One instruction of `kind` on `bytes` at [b], with the setup that makes a CAS match when `match`. */
  function insn(kind: string, bytes: number, order: string, b: string, match: boolean): Case {
    const x = bytes === 8;
    const sfx = bytes === 1 ? 'b' : bytes === 2 ? 'h' : '';
    const setup: string[] = [];
    switch (kind) {
      case 'ld':
        return { setup, insn: `ld${pick(OPS)}${order}${sfx} ${reg(val(), x)}, ${reg(val(), x)}, [${b}]` };
      case 'st':
        return { setup, insn: `st${pick(OPS)}${order.replace('a', '')}${sfx} ${reg(val(), x)}, [${b}]` };
      case 'swp':
        return { setup, insn: `swp${order}${sfx} ${reg(val(), x)}, ${reg(val(), x)}, [${b}]` };
      case 'cas': {
        const s = r() % 12;
        if (match) {
          setup.push(`${load(bytes)} ${reg(s, x)}, [${b}]`);
          // Bits above the access size play no part in the comparison.
          if (!x) setup.push(`movk x${s}, #${r() & 0xffff}, lsl #48`);
        }
        return { setup, insn: `cas${order}${sfx} ${reg(s, x)}, ${reg(val(), x)}, [${b}]` };
      }
      default: {
        // CASP: bytes is the size of one register (4 or 8); the pairs start at even registers.
        const s = 2 * (r() % 6),
          t = 2 * (r() % 6);
        if (match) setup.push(`ldp ${reg(s, x)}, ${reg(s + 1, x)}, [${b}]`);
        return { setup, insn: `casp${order} ${reg(s, x)}, ${reg(s + 1, x)}, ${reg(t, x)}, ${reg(t + 1, x)}, [${b}]` };
      }
    }
  }

  const cases: Case[] = [];
  const add = (b: { setup: string[]; text: string }, c: (b: string) => Case) => {
    const made = c(b.text);
    cases.push({ setup: [...b.setup, ...made.setup], insn: made.insn });
  };
  const aligned = (bytes: number) => bytes * (r() % (16 / bytes));

  // Every form: each operation, size and ordering.
  for (const order of ORDERS) {
    for (const [, bytes] of SIZES) {
      for (const kind of ['ld', 'ld', 'swp', 'cas', 'cas'])
        add(base(aligned(bytes)), (b) => insn(kind, bytes, order, b, r() % 2 === 0));
      if (order === '' || order === 'l') add(base(aligned(bytes)), (b) => insn('st', bytes, order, b, false));
    }
    for (const bytes of [4, 8]) {
      add(base(0), (b) => insn('casp', bytes, order, b, true));
      add(base(bytes === 4 ? 8 * (r() % 2) : 0), (b) => insn('casp', bytes, order, b, false));
    }
  }
  // Each LD<op> and ST<op> once more in each size, so every operation meets every size.
  for (const op of OPS) {
    for (const [sfx, bytes] of SIZES) {
      const x = bytes === 8;
      add(base(aligned(bytes)), (b) => ({
        setup: [],
        insn: `ld${op}${pick(ORDERS)}${sfx} ${reg(val(), x)}, ${reg(val(), x)}, [${b}]`,
      }));
      add(base(aligned(bytes)), (b) => ({
        setup: [],
        insn: `st${op}${pick(['', 'l'])}${sfx} ${reg(val(), x)}, [${b}]`,
      }));
    }
  }
  // Register overlaps the ARM ARM defines: Rs = Rt, the base as a data register, CASP of x30 and ZR.
  for (const o of [
    'ldadd x5, x5, [x13]',
    'swpal w6, w6, [x13]',
    'ldeor x13, x13, [x13]',
    'ldset x1, x13, [x13]',
    'cas x13, x2, [x13]',
    'casal x3, x13, [x13]',
    'casp w30, wzr, w2, w3, [x13]',
    'casp x30, xzr, x30, xzr, [x13]',
  ])
    cases.push({ setup: ['mov x13, x12'], insn: o });
  // Every misalignment of every size: an alignment fault whatever SCTLR_EL2.A says, memory untouched.
  for (const [kind, bytes] of [
    ['ld', 2],
    ['swp', 4],
    ['cas', 8],
    ['casp', 4],
    ['casp', 8],
  ] as const) {
    const total = kind === 'casp' ? 2 * bytes : bytes;
    const kinds = kind === 'casp' ? ['casp'] : ['ld', 'st', 'swp', 'cas'];
    for (let off = 1; off < total; off++)
      add(base(off), (b) => insn(kinds[off % kinds.length]!, bytes, pick(ORDERS), b, true));
  }
  // Read-only: a permission fault on the write, even for a CAS that does not match (WnR = 1).
  // Unmapped: a translation fault, which a read would take too.
  for (const region of ['ro', 'hole'] as const) {
    for (const [kind, bytes] of [
      ['ld', 8],
      ['ld', 1],
      ['st', 4],
      ['swp', 2],
      ['cas', 8],
      ['casp', 8],
    ] as const) {
      add(base(0, region), (b) => insn(kind, bytes, pick(ORDERS), b, false));
      // A CAS that would match still faults on the read-only mapping (the hole cannot be read to match).
      if (kind === 'cas' && region === 'ro') add(base(0, region), (b) => insn(kind, bytes, pick(ORDERS), b, true));
    }
  }

  const out = [wholeProgram(`\t.arch armv8.1-a\n${EL2_MMU_ON}`)];
  cases.forEach((c, i) => {
    out.push(`\n\t// case ${i}: ${c.insn}`, "\tmov w22, #'C'", '\tstrb w22, [x24]', `\tldr x20, =${i}`, '\tbl puthex');
    out.push('\tbl newline');
    for (let k = 0; k < 12; k++) out.push(`\tldr x${k}, =${hex64()}`);
    out.push(
      `\tldr x12, =cells + ${16 * (r() % CELLS)}`,
      `\tldr x14, =${hex64()}`,
      `\tmov x25, #${(r() % 16) * 2 ** 28}`,
    );
    out.push(
      '\tmsr nzcv, x25',
      ...c.setup.map((l) => `\t${l}`),
      `\t${c.insn}`,
      '\tbl dump',
      '\tb 9f',
      '\t.ltorg',
      '9:',
    );
  });
  out.push(`
${printQuads('cells', `cells + ${16 * CELLS}`)}
	SEMIHOSTING_EXIT

${printing(`${printRegs(15)}
	mrs x20, nzcv
	bl puthex
	bl newline
	ldp x20, x25, [x12]
	bl puthex
	bl newline
	mov x20, x25
	bl puthex
	bl newline`)}
	.data
	.balign 4096
l1_table:
	.quad 0x00000401             // 0-1 GiB: Device-nGnRnE (the UART), AF
	.quad 0x40000705             // 1-2 GiB: Normal, inner shareable, AF, read/write
	.quad 0                      // 2-3 GiB: nothing
	.quad 0x400007c5             // 3-4 GiB: the same RAM, read-only (AP = 11)
	.fill 508, 8, 0
	.balign 16
cells:
${Array.from({ length: 2 * CELLS }, () => `\t.quad ${hex64()}`).join('\n')}
`);
  return { source: out.join('\n'), cases };
}

/**
 * Runs the program of `seed` on QEMU and hypstep: null when the outputs are identical (QEMU's ESRs
 * as the ARM ARM has them, see armArmEsrLine), else the first difference and its case.
 */
export function compareAtomics(seed: number): string | null {
  const { source, cases } = atomicsProgram(seed);
  const { qemu: q, hypstep: h } = runSourceOnBoth(source);
  if (h.stop !== 'exit') return `seed ${seed}: hypstep stopped: ${h.stop}`;
  const ql = q.stdout.split('\n').map((l) => (l.startsWith('E') ? armArmEsrLine(l) : l));
  const hl = h.stdout.split('\n');
  const ran = ql.filter((l) => l.startsWith('C')).length;
  if (ran !== cases.length) return `seed ${seed}: QEMU ran ${ran} of ${cases.length} cases`;
  if (ql.filter((l) => l.startsWith('E')).length <= 40) return `seed ${seed}: too few exceptions on QEMU`;
  const first = ql.findIndex((l, i) => l !== hl[i]);
  if (first === -1)
    return hl.length === ql.length ? null : `seed ${seed}: hypstep printed ${hl.length} lines, QEMU ${ql.length}`;
  const header = ql
    .slice(0, first + 1)
    .reverse()
    .find((l) => l.startsWith('C'));
  const where = header === undefined ? 'before the first case' : cases[Number.parseInt(header.slice(1), 16)]!.insn;
  return `seed ${seed} line ${first} (${where}): qemu '${ql[first]}' hypstep '${hl[first]}'`;
}
