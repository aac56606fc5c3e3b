// `npm run bench`: hypstep next to QEMU on the same fixtures in the same run, as a table of
// rows (name, hypstep, QEMU, unit, hypstep/QEMU). Rows come from a list of providers; a
// provider whose module or fixture is not in the tree yet prints a "not available yet" line.
//
// Method for the loop fixtures (instructions per second):
// - hypstep runs in this process; the time is that of Machine.run alone and the instruction
//   count is its retired-instruction counter, so start-up is not in the figure.
// - QEMU is timed by wall clock around the whole process. Its start-up (~0.1–0.5 s) is removed
//   by timing two run lengths of the same ELF (one iteration, and about QEMU_SECONDS of work) and
//   dividing the instruction difference by the time difference (best of several runs each,
//   against noise from the shared machine). The run
//   length is the fixture's `iterations` word, patched in a copy of the ELF; a fixture without
//   that symbol is timed as is, minus an empty run (intloop with one iteration).
// - The instructions per iteration come from hypstep's counter (two short runs), and hypstep's
//   UART output must equal QEMU's for the same ELF: a fast but wrong run doesn't count.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Machine } from '../../src/board/machine.js';
import { parseElf } from '../../src/loader/elf.js';
import { QEMU_ARGS } from '../helpers/qemu.js';
import { repoRoot, requireTool } from '../helpers/tools.js';

export interface BenchRow {
  name: string;
  hypstep: number;
  /** null when QEMU has nothing to compare (the row is then a ratio of hypstep runs, or a time). */
  qemu: number | null;
  unit: string;
}

export interface RowProvider {
  /** Short key for HYPSTEP_BENCH_ROWS. */
  key: string;
  title: string;
  /** The rows, or null when what they measure is not in the tree yet. */
  rows: () => Promise<BenchRow[] | null>;
}

const env = process.env;
/** How long hypstep's timed run of a loop fixture should take. */
const HYPSTEP_SECONDS = Number(env.HYPSTEP_BENCH_SECONDS ?? 6);
/** How long QEMU's long run of a loop fixture should compute, beyond its start-up. */
const QEMU_SECONDS = Number(env.HYPSTEP_BENCH_QEMU_SECONDS ?? 1.5);
const QEMU_REPEATS = 3;

const ROOT = repoRoot();
const workDir = mkdtempSync(join(tmpdir(), 'hypstep-bench-'));

// --- running one ELF ------------------------------------------------------------

interface HypstepRun {
  seconds: number;
  icount: number;
  uart: string;
}

function runHypstep(elf: Uint8Array, smp = 1): HypstepRun {
  let uart = '';
  const m = new Machine({
    smp,
    uartOut: (b) => {
      uart += Buffer.from(b).toString('latin1');
    },
    consoleOut: () => {},
  });
  m.load(parseElf(elf));
  const t0 = performance.now();
  const r = m.run(1e12);
  const seconds = (performance.now() - t0) / 1000;
  if (r.kind !== 'exit')
    throw new Error(`hypstep did not run the fixture to its end: ${r.kind === 'unimplemented' ? r.message : r.kind}`);
  return { seconds, icount: m.icount, uart };
}

interface QemuRun {
  seconds: number;
  uart: string;
}

function runQemu(elf: Uint8Array, smp = 1): QemuRun {
  const path = join(workDir, 'run.elf');
  writeFileSync(path, elf);
  const t0 = performance.now();
  const r = spawnSync('qemu-system-aarch64', [...QEMU_ARGS, '-smp', String(smp), '-kernel', path], {
    encoding: 'latin1',
    timeout: 300_000,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (r.error || r.status !== 0)
    throw new Error(`qemu failed (${r.error?.message ?? `status ${r.status}`}): ${r.stderr.slice(0, 500)}`);
  return { seconds, uart: r.stdout };
}

/** The fastest of `n` QEMU runs (the run least disturbed by the other users of the machine). */
function bestQemu(elf: Uint8Array, n = QEMU_REPEATS, smp = 1): QemuRun {
  let best: QemuRun | null = null;
  for (let i = 0; i < n; i++) {
    const r = runQemu(elf, smp);
    if (best === null || r.seconds < best.seconds) best = r;
  }
  return best!;
}

/** A copy of `elf` with its 64-bit `iterations` word set to `n`, or null if it has none. */
function withIterations(elf: Uint8Array, n: number): Uint8Array | null {
  const copy = Uint8Array.from(elf);
  const image = parseElf(copy);
  const sym = image.symbols.find((s) => s.name === 'iterations');
  if (!sym) return null;
  const seg = image.segments.find((s) => sym.value >= s.vaddr && sym.value + 8n <= s.vaddr + BigInt(s.data.length));
  if (!seg) throw new Error('the iterations word is not in a loaded segment');
  new DataView(seg.data.buffer, seg.data.byteOffset, seg.data.byteLength).setBigUint64(
    Number(sym.value - seg.vaddr),
    BigInt(n),
    true,
  );
  return copy;
}

function sameOutput(what: string, h: string, q: string): void {
  if (h !== q)
    throw new Error(
      `${what}: hypstep's UART output differs from QEMU's\n  hypstep: ${JSON.stringify(h.slice(0, 200))}\n  QEMU:    ${JSON.stringify(q.slice(0, 200))}`,
    );
}

/**
 * Millions of instructions per second on a loop fixture, hypstep and QEMU; with `smp` PEs
 * the figure counts every PE's instructions (QEMU's PEs run on host threads of their own).
 */
function loopMips(name: string, elfPath: string, smp = 1): BenchRow[] | null {
  if (!existsSync(elfPath)) return null;
  const elf = readFileSync(elfPath);
  const at = (n: number): Uint8Array => withIterations(elf, n)!;
  if (withIterations(elf, 1) === null) {
    // Fixed length: QEMU's start-up estimated by an empty run of the integer loop.
    const h = runHypstep(elf, smp);
    const q = bestQemu(elf, 5, smp);
    sameOutput(name, h.uart, q.uart);
    const empty = bestQemu(withIterations(readFileSync(join(ROOT, 'fixtures/bench/build/intloop.elf')), 1)!, 5);
    const qemuSeconds = q.seconds - empty.seconds;
    if (qemuSeconds <= 0) throw new Error(`${name}: too short to time on QEMU (give it an 'iterations' word)`);
    return [
      {
        name: `${name} (${(h.icount / 1e6).toFixed(1)} M insns, fixed length)`,
        hypstep: h.icount / h.seconds / 1e6,
        qemu: h.icount / qemuSeconds / 1e6,
        unit: 'MIPS',
      },
    ];
  }
  const perIter = (runHypstep(at(1001), smp).icount - runHypstep(at(1), smp).icount) / 1000;
  // Calibrate hypstep's run length to about HYPSTEP_SECONDS: a short run, then one of about a
  // second (the first is mostly JIT warm-up and would underestimate the speed).
  let rate = 2e6;
  for (const seconds of [1, 1]) {
    const calib = runHypstep(at(Math.max(1, Math.round((rate * seconds) / perIter))), smp);
    rate = calib.icount / calib.seconds;
  }
  const iters = Math.max(1, Math.round((rate * HYPSTEP_SECONDS) / perIter));
  const h = runHypstep(at(iters), smp);
  sameOutput(name, h.uart, runQemu(at(iters), smp).uart);

  // QEMU's long run: sized from a probe of ~50 M instructions to compute for about QEMU_SECONDS
  // (its speed differs a hundredfold between the fixtures, and too short a run drowns in start-up jitter).
  const qShort = bestQemu(at(1), QEMU_REPEATS, smp);
  const probeIters = Math.max(1, Math.round(50e6 / perIter));
  const probe = runQemu(at(probeIters), smp);
  const roughRate = (probeIters * perIter) / Math.max(probe.seconds - qShort.seconds, 0.01);
  const long = Math.max(probeIters, Math.round((roughRate * QEMU_SECONDS) / perIter));
  const qLong = bestQemu(at(long), QEMU_REPEATS, smp);
  const qemuSeconds = qLong.seconds - qShort.seconds;
  if (qemuSeconds <= 0) throw new Error(`${name}: QEMU's long run was not slower than its short one`);
  return [
    {
      name: `${name} (${perIter} insns/iteration; hypstep ${(h.icount / 1e6).toFixed(0)} M, QEMU ${((long * perIter) / 1e6).toFixed(0)} M insns)`,
      hypstep: h.icount / h.seconds / 1e6,
      qemu: ((long - 1) * perIter) / qemuSeconds / 1e6,
      unit: 'MIPS',
    },
  ];
}

// --- providers --------------------------------------------------------------------

/**
 * Rows from another module of this directory (gdb.ts, world.ts), loaded when present: `null`
 * when the module isn't there yet; any other failure is a failure of the bench.
 */
function fromModule(file: string, exportName: string): () => Promise<BenchRow[] | null> {
  return async () => {
    const url = new URL(file, import.meta.url);
    if (!existsSync(fileURLToPath(url))) return null;
    const mod = (await import(url.href)) as Record<string, unknown>;
    const f = mod[exportName];
    if (typeof f !== 'function') return null;
    return (await (f as () => BenchRow[] | Promise<BenchRow[]>)()) ?? null;
  };
}

export const PROVIDERS: RowProvider[] = [
  {
    key: 'int',
    title: 'integer loop',
    rows: () => Promise.resolve(loopMips('integer loop', join(ROOT, 'fixtures/bench/build/intloop.elf'))),
  },
  {
    key: 'int4',
    title: 'integer loop on 4 PEs',
    rows: () => Promise.resolve(loopMips('integer loop, 4 PEs', join(ROOT, 'fixtures/bench/build/smploop.elf'), 4)),
  },
  {
    key: 'mem',
    title: 'memory loop',
    rows: () => Promise.resolve(loopMips('memory loop, MMU on', join(ROOT, 'fixtures/bench/build/memloop.elf'))),
  },
  { key: 'gdb', title: 'gdb-multiarch rows (test/bench/gdb.ts)', rows: fromModule('./gdb.js', 'benchGdb') },
  {
    key: 'world',
    title: 'world-switch layer rows (test/bench/world.ts)',
    rows: fromModule('./world.js', 'benchWorld'),
  },
];

// --- the table -----------------------------------------------------------------------

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

function printTable(rows: BenchRow[]): void {
  const cells = rows.map((r) => [
    r.name,
    fmt(r.hypstep),
    r.qemu === null ? '-' : fmt(r.qemu),
    r.unit,
    r.qemu === null ? '-' : (r.hypstep / r.qemu).toPrecision(3),
  ]);
  const head = ['row', 'hypstep', 'QEMU', 'unit', 'hypstep/QEMU'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c.map((s, i) => (i === 0 || i === 3 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

async function main(): Promise<number> {
  try {
    requireTool('qemu-system-aarch64');
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    return 1;
  }
  const only = env.HYPSTEP_BENCH_ROWS?.split(',');
  const rows: BenchRow[] = [];
  let failed = false;
  for (const p of PROVIDERS) {
    if (only && !only.includes(p.key)) continue;
    const t0 = performance.now();
    try {
      const r = await p.rows();
      if (r === null) console.error(`bench: ${p.title}: not available yet`);
      else rows.push(...r);
      console.error(`bench: ${p.title}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (e) {
      failed = true;
      console.error(`bench: ${p.title} FAILED: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  printTable(rows);
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    rmSync(workDir, { recursive: true, force: true });
    process.exit(code);
  },
  (e: unknown) => {
    console.error(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    rmSync(workDir, { recursive: true, force: true });
    process.exit(1);
  },
);
