// Builds random programs into ELFs, runs each ELF on QEMU and on hypstep, and compares the
// dumps program by program. On a mismatch it can localise the divergence to one unit by
// running every prefix of the program ("cuts") on both and finding the first that differs.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleElf } from '../helpers/asm.js';
import { QEMU_ARGS } from '../helpers/qemu.js';
import { requireTool } from '../helpers/tools.js';
import { Machine } from '../../src/board/machine.js';
import { parseElf } from '../../src/loader/elf.js';
import { DUMP_FIELDS, generateProgram, listProgram, renderElfSource, type ElfEntry, type Program } from './gen.js';

/**
 * Where sources, ELFs, outputs and listings go: $HYPSTEP_DIFF_OUT, or a fresh <tmp>/hypstep-diff-*
 * per run (several people run the tests at once on one machine).
 */
export const OUT_ROOT = process.env.HYPSTEP_DIFF_OUT ?? mkdtempSync(join(tmpdir(), 'hypstep-diff-'));
/** Removes the run's files when they were ours to choose and nothing failed. */
export function cleanUp(): void {
  if (process.env.HYPSTEP_DIFF_OUT === undefined) rmSync(OUT_ROOT, { recursive: true, force: true });
}

export const programName = (p: Program): string => `s${p.seed}-p${p.index}`;

export interface BuiltElf {
  path: string;
  bytes: Uint8Array;
  entries: ElfEntry[];
}

export function buildElf(entries: ElfEntry[], dir: string, stem: string): BuiltElf {
  mkdirSync(dir, { recursive: true });
  const source = renderElfSource(entries);
  writeFileSync(join(dir, `${stem}.S`), source);
  const bytes = assembleElf(source);
  const path = join(dir, `${stem}.elf`);
  writeFileSync(path, bytes);
  return { path, bytes, entries };
}

/** Runs an ELF on QEMU without blocking, so hypstep can run in this process meanwhile. */
export function runQemuAsync(elfPath: string, timeoutMs = 60_000): Promise<string> {
  requireTool('qemu-system-aarch64');
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-system-aarch64', [...QEMU_ARGS, '-kernel', elfPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '',
      err = '';
    child.stdout.setEncoding('latin1').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('latin1').on('data', (d: string) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0)
        reject(new Error(`qemu on ${elfPath} ended with ${signal ?? `status ${code}`}: ${err.slice(0, 2000)}`));
      else resolve(out);
    });
  });
}

/**
 * Runs an ELF on hypstep in-process. When hypstep stops (an unimplemented feature, a JS error)
 * or a program makes no progress, the output notes it and the run goes on with the next program
 * (the guest keeps its address in `next_prog`), so one gap doesn't hide the rest.
 */
export function runOnHypstep(elf: Uint8Array, slice = 400_000): string {
  let out = '';
  const m = new Machine({
    memory: 128 * 1024 * 1024,
    uartOut: (b) => {
      out += Buffer.from(b).toString('latin1');
    },
    consoleOut: () => {},
  });
  const image = parseElf(elf);
  m.load(image);
  const nextProgAddr = Number(image.symbols.find((s) => s.name === 'next_prog')!.value);
  const nextProg = (): bigint => m.bus.read(nextProgAddr, 8);
  let lastNext = -1n;
  for (;;) {
    let note: string | null = null;
    try {
      const r = m.run(slice);
      if (r.kind === 'exit') return out;
      if (r.kind === 'unimplemented') note = `hypstep stopped: ${r.message}`;
      else if (r.kind === 'budget' && nextProg() === lastNext) note = `hypstep: no progress in ${slice} instructions`;
      else if (r.kind !== 'budget') note = `hypstep stopped: ${r.kind}`;
    } catch (e) {
      m.flush();
      note = `hypstep threw: ${e instanceof Error ? e.message : String(e)}`;
    }
    const next = nextProg();
    if (note !== null) {
      out += `\n!! ${note} at pc=${m.cpu.pcs[1]!.toString(16)}\n`;
      if (next === 0n) return out;
      m.cpu.pcs[0] = next;
    }
    lastNext = next;
  }
}

/** Splits a run's output into program blocks by their header lines. */
export function splitBlocks(output: string): Map<string, string> {
  const blocks = new Map<string, string>();
  const re = /^== program (\S+) ==$/gm;
  const heads = [...output.matchAll(re)];
  heads.forEach((h, i) => {
    const end = i + 1 < heads.length ? heads[i + 1]!.index : output.length;
    blocks.set(
      h[1]!,
      output
        .slice(h.index + h[0].length, end)
        .replace(/\n?== done ==\n?$/, '')
        .trim(),
    );
  });
  return blocks;
}

function fields(block: string): Map<string, string> {
  const dump = block
    .split('\n')
    .filter((l) => !l.startsWith('!!'))
    .join('\n');
  return new Map([...dump.matchAll(/(\S+)=([0-9a-f]{16})/g)].map((m) => [m[1]!, m[2]!]));
}

const EC_NAMES: Record<number, string> = {
  0x00: 'UNDEFINED',
  0x01: 'WFI/WFE trap',
  0x0e: 'illegal execution state',
  0x15: 'SVC',
  0x16: 'HVC',
  0x17: 'SMC',
  0x18: 'MSR/MRS trap',
  0x20: 'instruction abort (lower EL)',
  0x21: 'instruction abort',
  0x22: 'PC alignment',
  0x24: 'data abort (lower EL)',
  0x25: 'data abort',
  0x26: 'SP alignment',
  0x3c: 'BRK',
};

/** Adds the exception class to the guest's "!! exception ... esr=..." line. */
function explainException(line: string): string {
  const m = /esr=([0-9a-f]+)/.exec(line);
  if (!m) return line;
  const ec = Number((BigInt(`0x${m[1]}`) >> 26n) & 0x3fn);
  return `${line} (EC 0x${ec.toString(16).padStart(2, '0')}: ${EC_NAMES[ec] ?? 'other'})`;
}

/** The first difference between two program blocks, in words; null if they agree. */
export function describeDifference(expected: string | undefined, actual: string | undefined): string | null {
  if (expected === actual) return null;
  if (actual === undefined) return 'no output from hypstep';
  if (expected === undefined) return 'no output from QEMU';
  const notes = actual
    .split('\n')
    .filter((l) => l.startsWith('!!') && !expected.includes(l))
    .map(explainException);
  const e = fields(expected),
    a = fields(actual);
  const diffs = DUMP_FIELDS.filter((f) => e.get(f) !== a.get(f));
  const parts: string[] = [];
  if (a.size === 0) {
    parts.push('no register dump from hypstep');
  } else if (diffs.length > 0) {
    const f = diffs[0]!;
    parts.push(
      `${f}: QEMU ${e.has(f) ? `0x${e.get(f)}` : '(none)'}, hypstep ${a.has(f) ? `0x${a.get(f)}` : '(none)'}` +
        (diffs.length > 1 ? ` (also differ: ${diffs.slice(1).join(' ')})` : ''),
    );
  }
  if (notes.length > 0) parts.push(notes.join(' | '));
  if (parts.length === 0) parts.push(`output differs:\n--- QEMU\n${expected}\n--- hypstep\n${actual}`);
  return parts.join('; ');
}

export interface Mismatch {
  program: Program;
  name: string;
  detail: string;
  listing: string;
}

export interface RunResult {
  programs: number;
  mismatches: Mismatch[];
  dir: string;
}

/** Checks that QEMU ran every program cleanly: a fault on QEMU is a generator bug, not hypstep's. */
function checkReference(built: BuiltElf, qemu: string): Map<string, string> {
  const blocks = splitBlocks(qemu);
  if (!qemu.includes('== done =='))
    throw new Error(`QEMU did not finish ${built.path}; output ends:\n${qemu.slice(-2000)}`);
  for (const e of built.entries) {
    const b = blocks.get(e.name);
    if (b === undefined || b.includes('!!') || !b.includes('csum=')) {
      throw new Error(
        `generator bug: program ${e.name} did not run cleanly on QEMU (${join(built.path)}):\n${b ?? '(missing)'}`,
      );
    }
  }
  return blocks;
}

/**
 * Runs `ref` on QEMU and `hyp` (the same programs unless a test plants a difference) on hypstep,
 * `perElf` programs to an ELF, and returns the programs whose dumps differ.
 */
export async function comparePrograms(
  ref: Program[],
  dir: string,
  hyp: Program[] = ref,
  perElf = 50,
): Promise<Mismatch[]> {
  const build = (ps: Program[], suffix: string): BuiltElf[] => {
    const out: BuiltElf[] = [];
    for (let i = 0; i < ps.length; i += perElf) {
      const entries = ps.slice(i, i + perElf).map((program) => ({ program, name: programName(program) }));
      out.push(
        buildElf(entries, dir, `p${entries[0]!.program.index}-${entries[entries.length - 1]!.program.index}${suffix}`),
      );
    }
    return out;
  };
  const refElfs = build(ref, '');
  const hypElfs = hyp === ref ? refElfs : build(hyp, '-hypstep');
  const qemuRuns = refElfs.map((b) => runQemuAsync(b.path));
  for (const q of qemuRuns) q.catch(() => {}); // awaited below; don't let an early rejection go unhandled
  const mismatches: Mismatch[] = [];
  for (const [k, built] of refElfs.entries()) {
    const hypOut = runOnHypstep(hypElfs[k]!.bytes);
    const qemu = await qemuRuns[k]!;
    const stem = built.path.replace(/\.elf$/, '');
    writeFileSync(`${stem}.qemu.txt`, qemu);
    writeFileSync(`${stem}.hypstep.txt`, hypOut);
    const expected = checkReference(built, qemu);
    const actual = splitBlocks(hypOut);
    for (const e of built.entries) {
      const detail = describeDifference(expected.get(e.name), actual.get(e.name));
      if (detail === null) continue;
      const listing = join(dir, `${e.name}.S`);
      writeFileSync(listing, listProgram(e.program));
      mismatches.push({ program: e.program, name: e.name, detail, listing });
    }
  }
  return mismatches;
}

/** Runs programs `first`..`first+count-1` of `seed` on both machines. */
export async function runSeed(seed: number, first: number, count: number): Promise<RunResult> {
  const dir = join(OUT_ROOT, `seed-${seed}`);
  const programs = Array.from({ length: count }, (_, k) => generateProgram(seed, first + k));
  return { programs: count, mismatches: await comparePrograms(programs, dir), dir };
}

/** The instruction words of unit `i` of the program in `slot` (needs `markUnits`). */
function unitWords(built: BuiltElf, slot: number, i: number): string[] {
  const image = parseElf(built.bytes);
  const at = (n: string) => Number(image.symbols.find((s) => s.name === n)?.value ?? -1n);
  const start = at(`unit_${slot}_${i}`),
    end = at(`unit_${slot}_${i + 1}`);
  const seg = image.segments.find((s) => start >= s.paddr && end <= s.paddr + s.data.length);
  if (start < 0 || end < 0 || !seg) return ['?'];
  const dv = new DataView(seg.data.buffer, seg.data.byteOffset, seg.data.byteLength);
  const words: string[] = [];
  for (let a = start; a < end; a += 4)
    words.push(
      dv
        .getUint32(a - seg.paddr, true)
        .toString(16)
        .padStart(8, '0'),
    );
  return words;
}

/**
 * Finds the first unit after which hypstep's dump differs from QEMU's: builds every prefix of
 * the program into one ELF (branches past a cut land on the dump) and compares them in order.
 */
export async function localize(p: Program, hypProgram: Program = p): Promise<string> {
  const name = programName(p);
  const cuts = (q: Program): ElfEntry[] =>
    Array.from({ length: q.units.length + 1 }, (_, cut) => ({
      program: q,
      cut,
      name: `${name}-cut${cut}`,
      markUnits: true,
    }));
  const dir = join(OUT_ROOT, `seed-${p.seed}`);
  const built = buildElf(cuts(p), dir, `${name}-cuts`);
  const entries = built.entries;
  const hypBuilt = hypProgram === p ? built : buildElf(cuts(hypProgram), dir, `${name}-cuts-hypstep`);
  const qemuRun = runQemuAsync(built.path);
  const hyp = splitBlocks(runOnHypstep(hypBuilt.bytes));
  const qemu = checkReference(built, await qemuRun);
  for (let cut = 0; cut < entries.length; cut++) {
    const n = `${name}-cut${cut}`;
    const d = describeDifference(qemu.get(n), hyp.get(n));
    if (d === null) continue;
    if (cut === 0) return `diverges before the first random unit (prologue or dump): ${d}`;
    const unit = p.units[cut - 1]!;
    const before = fields(qemu.get(`${name}-cut${cut - 1}`) ?? '');
    const regsIn = [...new Set(unit.lines.join(' ').match(/\b[xw]([0-9]|[12][0-9]|30)\b/g) ?? [])]
      .map((r) => `x${r.slice(1).padStart(2, '0')}`)
      .filter((r, i, a) => a.indexOf(r) === i);
    const inputs = [...regsIn, 'nzcv'].map((f) => `${f}=0x${before.get(f) ?? '?'}`).join(' ');
    return (
      `first divergence at unit ${cut - 1}: \`${unit.lines.join('; ')}\` [${unitWords(built, cut, cut - 1).join(' ')}]${unit.literal !== undefined ? ` (literal 0x${unit.literal.toString(16)})` : ''}\n` +
      `    state before it (QEMU): ${inputs}\n    after it: ${d}`
    );
  }
  return 'no divergence when run in prefixes (the difference depends on the programs run before it)';
}
