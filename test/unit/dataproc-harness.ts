// Runs lists of single-instruction cases on hypstep and on QEMU from one ELF, and compares.
//
// Each case loads its inputs (movz/movk), sets NZCV, executes the instruction(s) under test,
// then reaches the label __case_<i>. QEMU runs on from there through recording code that
// stores NZCV and the requested registers to a buffer, dumped in hex over the UART at the end.
// hypstep stops at a breakpoint on __case_<i>, reads the same values from the CPU and resumes
// at __next_<i>, past the recording code: the code under test is byte-identical on both, and
// hypstep's side does not depend on loads and stores.
//
// A synchronous exception (e.g. UNDEFINED) is caught by a vector that puts ESR_EL2 in x25 and
// resumes at the next instruction; x25 is zeroed before every case, so recording x25 shows it.
// Registers x24, x25, x27, x28 belong to the harness; cases use x0-x23 and sp.
import { assemble, program, withElf } from '../helpers/asm.js';
import { runQemu } from '../helpers/qemu.js';
import { Machine } from '../../src/board/machine.js';

export interface Case {
  /** The instruction(s) under test; may be several lines. */
  insn: string;
  /** Inputs: register name (x0..x23, sp) to value. */
  in?: Record<string, bigint>;
  /** NZCV before the instruction, as a 4-bit number (default 0). */
  nzcv?: number;
  /** Registers to record afterwards (x0..x25, sp). NZCV is always recorded. */
  out: string[];
}

export interface Result {
  nzcv: number;
  regs: Record<string, bigint>;
}

const BUF = 0x4200_0000;
const MASK64 = (1n << 64n) - 1n;

function hex64(v: bigint): string {
  return '0x' + (v & MASK64).toString(16);
}

/** The assembly of a whole case list. */
export function caseSource(cases: readonly Case[]): string {
  const out: string[] = [];
  out.push(
    program(`	adr x28, __vectors
	msr vbar_el2, x28
	isb
	movq x27, ${BUF}
	b __cases
	.balign 2048
__vectors:
	.fill 128, 4, 0xd4200000 // current EL with SP0; brk #0: any vector but one is a harness bug
	// 0x200: current EL with SPx, synchronous
	mrs x25, esr_el2
	mrs x24, elr_el2
	add x24, x24, #4
	msr elr_el2, x24
	eret
	.balign 128
	.fill 96, 4, 0xd4200000 // current EL with SPx: IRQ, FIQ, SError
	.fill 256, 4, 0xd4200000 // lower EL
__cases:`),
  );
  cases.forEach((c, i) => {
    out.push(`\tmov x25, #0`);
    for (const [reg, v] of Object.entries(c.in ?? {})) {
      if (reg === 'sp') out.push(`\tmovq x28, ${hex64(v)}`, `\tmov sp, x28`);
      else out.push(`\tmovq ${reg}, ${hex64(v)}`);
    }
    out.push(`\tmov x28, #${(c.nzcv ?? 0) * 0x1000_0000}`, `\tmsr nzcv, x28`);
    out.push(...c.insn.split('\n').map((l) => `\t${l}`));
    out.push(`__case_${i}:`, `\tmrs x28, nzcv`, `\tstr x28, [x27], #8`);
    for (const r of c.out) {
      if (r === 'sp') out.push(`\tmov x28, sp`, `\tstr x28, [x27], #8`);
      else out.push(`\tstr ${r}, [x27], #8`);
    }
    out.push(`__next_${i}:`);
  });
  out.push(`__done:
	movq x1, ${BUF}
	mov x2, #UART_BASE
1:	cmp x1, x27
	b.hs 4f
	ldr x3, [x1], #8
	UART_HEX 2, 3, 4, 5, 6
	mov w5, #'\\n'
	strb w5, [x2]
	b 1b
4:	POWER_OFF
`);
  return out.join('\n');
}

/** Runs the cases on hypstep, stopping at each case's end to read the registers. */
export function runOnHypstep(cases: readonly Case[], source = caseSource(cases)): Result[] {
  const image = assemble(source);
  const sym = new Map(image.symbols.map((s) => [s.name, s.value]));
  const m = new Machine({ memory: 64 * 1024 * 1024, uartOut: () => {} });
  m.load(image);
  const cpu = m.cpu;
  const stops = cases.map((_, i) => sym.get(`__case_${i}`)!);
  for (const s of stops) cpu.debug.breakpoints.add(s);
  const done = sym.get('__done')!;
  cpu.debug.breakpoints.add(done);
  const results: Result[] = [];
  for (let i = 0; ;) {
    const r = m.run(10_000_000);
    if (r.kind !== 'breakpoint')
      throw new Error(
        `hypstep stopped with ${JSON.stringify(r, (_, v: unknown) => (typeof v === 'bigint' ? hex64(v) : v))} after case ${i}`,
      );
    if (r.pc === done) break;
    if (r.pc !== stops[i]) throw new Error(`hypstep reached 0x${r.pc.toString(16)}, expected the end of case ${i}`);
    const c = cases[i]!;
    const regs: Record<string, bigint> = {};
    for (const name of c.out) regs[name] = name === 'sp' ? cpu.getSp() : cpu.x[Number(name.slice(1))]!;
    results.push({ nzcv: cpu.ps.nzcv, regs });
    cpu.pcs[0] = sym.get(`__next_${i}`)!;
    i++;
  }
  if (results.length !== cases.length) throw new Error(`hypstep ran ${results.length} of ${cases.length} cases`);
  return results;
}

/** Runs the same cases on QEMU (one run for the whole list). */
export function runOnQemu(cases: readonly Case[], source = caseSource(cases)): Result[] {
  const q = withElf(source, (elf) => runQemu(elf, 60_000));
  const words = q.stdout
    .split(/\r?\n/)
    .filter((l) => /^[0-9a-f]{16}$/.test(l))
    .map((l) => BigInt('0x' + l));
  const results: Result[] = [];
  let k = 0;
  for (const c of cases) {
    const nzcv = Number((words[k++] ?? 0n) >> 28n) & 0xf;
    const regs: Record<string, bigint> = {};
    for (const name of c.out) regs[name] = words[k++]!;
    results.push({ nzcv, regs });
  }
  if (k !== words.length)
    throw new Error(`QEMU printed ${words.length} words, expected ${k}:\n${q.stdout.slice(0, 500)}\n${q.stderr}`);
  return results;
}

export function describeCase(c: Case): string {
  const ins = Object.entries(c.in ?? {})
    .map(([r, v]) => `${r}=${hex64(v)}`)
    .join(' ');
  return `${c.insn.replace(/\n/g, '; ')} [${ins}${c.nzcv ? ` nzcv=${c.nzcv.toString(2).padStart(4, '0')}` : ''}]`;
}

function showResult(r: Result): string {
  return (
    `nzcv=${r.nzcv.toString(2).padStart(4, '0')} ` +
    Object.entries(r.regs)
      .map(([n, v]) => `${n}=${hex64(v)}`)
      .join(' ')
  );
}

/** Lines describing every case whose hypstep and QEMU results differ (empty when they agree). */
export function differences(cases: readonly Case[], ours: readonly Result[], qemu: readonly Result[]): string[] {
  const diffs: string[] = [];
  cases.forEach((c, i) => {
    const a = showResult(ours[i]!);
    const b = showResult(qemu[i]!);
    if (a !== b) diffs.push(`${describeCase(c)}\n    hypstep ${a}\n    qemu    ${b}`);
  });
  return diffs;
}

/** Interesting operands: zero, one, the 32- and 64-bit signed/unsigned boundaries, and ordinary values. */
export const BOUNDARY_VALUES: readonly bigint[] = [
  0n,
  1n,
  0x7fff_ffffn,
  0x8000_0000n,
  0xffff_ffffn,
  0x1_0000_0000n,
  0x7fff_ffff_ffff_ffffn,
  0x8000_0000_0000_0000n,
  0xffff_ffff_ffff_ffffn,
  0x0123_4567_89ab_cdefn,
  0xfedc_ba98_7654_3210n,
  0xdead_beef_8000_0001n,
];

/** The flags as ARM ARM bit positions: N=8, Z=4, C=2, V=1. */
export const N = 8,
  Z = 4,
  C = 2,
  V = 1;

/**
 * The words the assembler produced for `lines`, in order. (test/helpers/asm.ts `encode`
 * reads from the start of the first segment, which holds the ELF header, so it is not used here.)
 */
export function encodeWords(lines: readonly string[]): number[] {
  const img = assemble(`.text\n.global _start\n_start:\n${lines.join('\n')}\n`);
  const start = img.symbols.find((s) => s.name === '_start')!.value;
  const seg = img.segments.find((s) => start >= s.vaddr && start < s.vaddr + BigInt(s.data.length))!;
  const off = Number(start - seg.vaddr);
  const dv = new DataView(seg.data.buffer, seg.data.byteOffset + off, lines.length * 4);
  return lines.map((_, i) => dv.getUint32(i * 4, true));
}
