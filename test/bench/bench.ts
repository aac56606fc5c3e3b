// `npm run bench`: hypstep next to QEMU 7.2 on the same programs, timed the same way, as
// tables of rows (name, hypstep, QEMU, unit, hypstep/QEMU). `npm run bench -- --quick` (or
// HYPSTEP_BENCH_QUICK=1) runs every row once at a tiny length, to check that each prints:
// its figures mean nothing. HYPSTEP_BENCH_ROWS=key,… picks rows (the keys are in PROVIDERS).
//
// Method (printed with the tables): see METHOD below.
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine } from '../../src/board/machine.js';
import { parseElf } from '../../src/loader/elf.js';
import { repoRoot, requireTool } from '../helpers/tools.js';
import {
  GNU_TIME,
  HYPSTEP_CLI,
  removeWorkDir,
  runTimed,
  stats,
  withIterations,
  type Engine,
  type ProcessRun,
  type RunOptions,
  type Stats,
} from './measure.js';

export interface BenchRow {
  name: string;
  /** A measurement's median and range, or a single figure. */
  hypstep: Stats | number;
  /** null when QEMU has nothing to compare. */
  qemu: Stats | number | null;
  unit: string;
  /** The table it goes in (default: speed). */
  group?: 'speed' | 'memory' | 'detail';
}

export interface RowProvider {
  /** Short key for HYPSTEP_BENCH_ROWS. */
  key: string;
  title: string;
  rows: () => Promise<BenchRow[]>;
}

const env = process.env;
export const QUICK = process.argv.includes('--quick') || env.HYPSTEP_BENCH_QUICK === '1';
/** Interleaved rounds per row: each gives one figure for hypstep and one for QEMU. */
const ROUNDS = QUICK ? 1 : Number(env.HYPSTEP_BENCH_ROUNDS ?? 5);
/** CPU seconds a long run should take beyond start-up, for hypstep and for QEMU. */
const HYPSTEP_SECONDS = Number(env.HYPSTEP_BENCH_SECONDS ?? 1);
const QEMU_SECONDS = Number(env.HYPSTEP_BENCH_QEMU_SECONDS ?? 1);
/** CPU seconds beyond start-up the short run takes at least, on both engines (see calibrate). */
const WARM_SECONDS = Number(env.HYPSTEP_BENCH_WARM_SECONDS ?? 0.5);
/** Another build's CLI (HYPSTEP_BENCH_CLI): the in-process detail rows would be this tree's, so they are left out. */
const OTHER_BUILD = env.HYPSTEP_BENCH_CLI !== undefined;

const METHOD = `\
Method: whole processes, hypstep (\`node ${HYPSTEP_CLI.replace(repoRoot() + '/', '')} run\`) and QEMU
(qemu-system-aarch64 -M virt,virtualization=on -cpu max -m 512M, TCG, no -icount) alike, each
under GNU time: CPU time (user + system, all threads) and peak RSS (ru_maxrss) of the child,
in this environment without NODE_EXTRA_CA_CERTS (a user's shell does not set it; node would
read a bundle of certificates at every start).
Start-up and warm-up (hypstep compiling traces and V8 optimising them, QEMU translating blocks)
are subtracted by running each program at two lengths (its \`iterations\` word patched to M and
to N), sized per engine: M doubles until two successive doublings cost the same per iteration
(within 20%) and M takes at least ${WARM_SECONDS} s of CPU beyond start-up, so it is past warm-up;
N adds ${HYPSTEP_SECONDS} s of hypstep's (${QEMU_SECONDS} s of QEMU's) CPU time at that steady cost
(at least M more); rate = (work at N - work at M) / (CPU at N - CPU at M). ${ROUNDS} rounds, hypstep and QEMU
interleaved within each; median (min-max) over the rounds. Instructions per iteration are
hypstep's retired-instruction count (the programs are deterministic); every hypstep run's UART
output must equal QEMU's for the same length.`;

const ROOT = repoRoot();
export const fixture = (dir: string, name: string): string => join(ROOT, 'fixtures', dir, 'build', `${name}.elf`);

// --- in-process runs: instruction counts, and the in-process detail -------------------

interface InProcessRun {
  seconds: number;
  icount: number;
  uart: string;
}

function runInProcess(elf: string, smp = 1): InProcessRun {
  let uart = '';
  const m = new Machine({ smp, uartOut: (b) => (uart += Buffer.from(b).toString('latin1')), consoleOut: () => {} });
  m.load(parseElf(readFileSync(elf)));
  const t0 = performance.now();
  const r = m.run(1e12);
  const seconds = (performance.now() - t0) / 1000;
  if (r.kind !== 'exit')
    throw new Error(`hypstep did not run the fixture to its end: ${r.kind === 'unimplemented' ? r.message : r.kind}`);
  return { seconds, icount: m.icount, uart };
}

/** hypstep's instructions per iteration of `elf` (every iteration runs the same instructions). */
function insnsPerIteration(elf: string, smp = 1): number {
  const n = 21;
  const d = runInProcess(withIterations(elf, n), smp).icount - runInProcess(withIterations(elf, 1), smp).icount;
  return d / (n - 1);
}

// --- whole-process rates --------------------------------------------------------------

interface Workload {
  name: string;
  elf: string;
  run?: RunOptions;
  /** Units of work per iteration (instructions, round trips, lock acquisitions). */
  perIteration: number;
  /** The rate's unit, and the factor from work per second to it. */
  unit: string;
  scale: number;
  /** Iterations of the first calibration run (a tenth of them in quick mode): a few milliseconds' work. */
  probe: number;
}

interface RateResult {
  hypstep: Stats;
  qemu: Stats;
  rss: { hypstep: Stats; qemu: Stats };
  lengths: { hypstep: Lengths; qemu: Lengths };
}

/** Iterations of the short and the long run of a workload on one engine. */
interface Lengths {
  short: number;
  long: number;
}

/**
 * The short and the long run's iterations on `engine`. The short run must already be past
 * warm-up (hypstep compiling its traces and V8 optimising them, QEMU translating its blocks),
 * or the difference between the two runs keeps part of it: a program of many traces, like the
 * sort, warms up for half a second of hypstep's CPU. So the length doubles until two successive
 * doublings cost the same per added iteration (within a fifth) and the shorter run of them
 * takes at least WARM_SECONDS beyond start-up: that one is the short run, and the long run adds
 * `seconds` of CPU at the steady cost to it.
 */
function calibrate(engine: Engine, w: Workload, seconds: number, startCpu: number): Lengths {
  const extra = (k: number): number => runTimed(engine, withIterations(w.elf, k), w.run).cpu - startCpu;
  let n = w.probe;
  let t = extra(n);
  // First to a length GNU time's 10 ms steps can measure.
  for (let i = 0; i < 8 && t < 0.05; i++) {
    n *= t > 0.005 ? Math.ceil(0.05 / t) : 10;
    t = extra(n);
  }
  let previous = Infinity;
  let cost = Infinity;
  for (let i = 0; i < 12; i++) {
    const t2 = extra(2 * n);
    cost = Math.max(t2 - t, 0.01) / n;
    if (t >= WARM_SECONDS && Math.abs(cost - previous) <= 0.2 * cost) break;
    // The load can keep two doublings from agreeing: past this length warm-up is a small share anyway.
    if (t2 > 3 * (seconds + WARM_SECONDS)) break;
    previous = cost;
    n *= 2;
    t = t2;
  }
  return { short: n, long: n + Math.max(n, Math.round(seconds / cost)) };
}

/**
 * The short and the long run of `elf` on `engine`; a pair whose difference the load swallowed
 * (GNU time counts in 10 ms steps) is run again, twice at most.
 */
function timedPair(engine: Engine, elf: string, lengths: Lengths, run?: RunOptions): { s: ProcessRun; l: ProcessRun } {
  let s = runTimed(engine, withIterations(elf, lengths.short), run);
  let l = runTimed(engine, withIterations(elf, lengths.long), run);
  for (let retry = 0; retry < 2 && l.cpu <= s.cpu && !QUICK; retry++) {
    s = runTimed(engine, withIterations(elf, lengths.short), run);
    l = runTimed(engine, withIterations(elf, lengths.long), run);
  }
  return { s, l };
}

function measureRate(w: Workload): RateResult {
  const one = withIterations(w.elf, 1);
  let lengths: { hypstep: Lengths; qemu: Lengths };
  if (QUICK) {
    const q = { short: 1, long: Math.max(2, Math.round(w.probe / 10)) };
    lengths = { hypstep: q, qemu: q };
  } else {
    lengths = {
      hypstep: calibrate('hypstep', w, HYPSTEP_SECONDS, runTimed('hypstep', one, w.run).cpu),
      qemu: calibrate('QEMU', w, QEMU_SECONDS, runTimed('QEMU', one, w.run).cpu),
    };
  }
  const m = { hypstep: lengths.hypstep.short, qemu: lengths.qemu.short };
  const n = { hypstep: lengths.hypstep.long, qemu: lengths.qemu.long };
  // What hypstep must print at each of its lengths: QEMU's output for the same ELF.
  const want = new Map<number, string>(
    [m.hypstep, n.hypstep].map((k) => [k, runTimed('QEMU', withIterations(w.elf, k), w.run).stdout]),
  );
  const rates = { hypstep: [] as number[], qemu: [] as number[] };
  const rss = { hypstep: [] as number[], qemu: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const engines: Engine[] = round % 2 === 0 ? ['hypstep', 'QEMU'] : ['QEMU', 'hypstep'];
    for (const engine of engines) {
      const key = engine === 'hypstep' ? 'hypstep' : 'qemu';
      const { s, l } = timedPair(engine, w.elf, lengths[key], w.run);
      if (engine === 'hypstep')
        for (const [k, r] of [
          [m.hypstep, s],
          [n.hypstep, l],
        ] as const)
          if (r.stdout !== want.get(k))
            throw new Error(
              `${w.name}: hypstep's UART output differs from QEMU's at ${k} iterations\n` +
                `  hypstep: ${JSON.stringify(r.stdout.slice(0, 200))}\n  QEMU:    ${JSON.stringify(want.get(k)!.slice(0, 200))}`,
            );
      const cpu = l.cpu - s.cpu;
      if (cpu <= 0 && !QUICK) throw new Error(`${w.name}: ${engine}'s long run took no longer than its short one`);
      rates[key].push(((n[key] - m[key]) * w.perIteration * w.scale) / Math.max(cpu, 0.01));
      rss[key].push(l.rss);
    }
  }
  return {
    hypstep: stats(rates.hypstep),
    qemu: stats(rates.qemu),
    rss: { hypstep: stats(rss.hypstep), qemu: stats(rss.qemu) },
    lengths,
  };
}

/** A loop fixture in MIPS (all PEs' instructions), its peak memory, and hypstep in process. */
export function loopRows(name: string, elf: string, smp = 1): BenchRow[] {
  const perIteration = insnsPerIteration(elf, smp);
  const w: Workload = {
    name,
    elf,
    run: smp > 1 ? { smp } : {},
    perIteration,
    unit: 'MIPS',
    scale: 1e-6,
    probe: Math.max(2, Math.round(2e6 / perIteration)),
  };
  const r = measureRate(w);
  const m = (k: Lengths): string =>
    `${((k.short * perIteration) / 1e6).toFixed(0)}-${((k.long * perIteration) / 1e6).toFixed(0)} M`;
  const rows: BenchRow[] = [
    {
      name: `${name} (${perIteration} insns/iteration; M-N: hypstep ${m(r.lengths.hypstep)}, QEMU ${m(r.lengths.qemu)} insns)`,
      hypstep: r.hypstep,
      qemu: r.qemu,
      unit: 'MIPS',
    },
    {
      name: `${name}: peak RSS of the long run`,
      hypstep: r.rss.hypstep,
      qemu: r.rss.qemu,
      unit: 'MiB',
      group: 'memory',
    },
  ];
  if (!OTHER_BUILD) {
    // In process, after a warm-up run: what the run loop does without process start-up.
    const long = withIterations(elf, r.lengths.hypstep.long);
    runInProcess(long, smp);
    const h = runInProcess(long, smp);
    rows.push({
      name: `${name}, hypstep in process after warm-up`,
      hypstep: h.icount / h.seconds / 1e6,
      qemu: null,
      unit: 'MIPS',
      group: 'detail',
    });
  }
  return rows;
}

const HVC_BOUND = ['--vcpu-layout', join(ROOT, 'fixtures/bench/hvc-layout.json')];
const HVC_LAYOUT = [...HVC_BOUND, '--check-residency'];

function hvcRows(world: boolean): BenchRow[] {
  const elf = fixture('bench', 'hvc');
  const name = world ? 'HVC round trips, layout bound, residency checker on' : 'HVC round trips, world layer off';
  const run = world ? { hypstepArgs: HVC_LAYOUT } : {};
  const r = measureRate({ name, elf, run, perIteration: 1, unit: 'M round trips/s', scale: 1e-6, probe: 20_000 });
  const rows: BenchRow[] = [{ name, hypstep: r.hypstep, qemu: r.qemu, unit: 'M round trips/s' }];
  if (world) {
    const [checker, bound] = costsOverLayerOff(elf, r.lengths.hypstep, [HVC_LAYOUT, HVC_BOUND]);
    rows.push(
      {
        name: 'HVC round trips: CPU time per round trip, checker on vs world layer off (issue 16: at most 1.15)',
        hypstep: checker!,
        qemu: null,
        unit: '×',
      },
      {
        name: 'HVC round trips: CPU time per round trip, layout bound, checker off vs world layer off',
        hypstep: bound!,
        qemu: null,
        unit: '×',
      },
    );
    // Peak memory over a million exits with the layout bound (the world layer's records stay bounded).
    const n = QUICK ? 10_000 : 1_000_000;
    const long = withIterations(elf, n);
    const h = runTimed('hypstep', long, run);
    const q = runTimed('QEMU', long);
    if (h.stdout !== q.stdout) throw new Error(`${name}: hypstep's output differs from QEMU's at ${n} round trips`);
    rows.push({
      name: `${n.toLocaleString('en-US')} HVC round trips, layout bound, checker on: peak RSS`,
      hypstep: h.rss,
      qemu: q.rss,
      unit: 'MiB',
      group: 'memory',
    });
  }
  return rows;
}

/**
 * What the world layer costs on the HVC program under each of `configs` (hypstep's arguments):
 * the steady-state CPU time per round trip over that with the layer off, from interleaved whole
 * processes at the checker row's two lengths (the same start-up subtraction as its rate).
 */
function costsOverLayerOff(elf: string, lengths: Lengths, configs: readonly string[][]): Stats[] {
  const perRoundTrip = (hypstepArgs: string[]): number => {
    const { s, l } = timedPair('hypstep', elf, lengths, { hypstepArgs });
    return Math.max(l.cpu - s.cpu, 0.01) / (lengths.long - lengths.short);
  };
  const all = [[], ...configs];
  const ratios: number[][] = configs.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    // Each round starts with another configuration, so that drift in the machine's load falls on all.
    const times = new Array<number>(all.length);
    for (let k = 0; k < all.length; k++) {
      const c = (round + k) % all.length;
      times[c] = perRoundTrip(all[c]!);
    }
    configs.forEach((_, c) => ratios[c]!.push(times[c + 1]! / times[0]!));
  }
  return ratios.map(stats);
}

/** fixtures/smp/spinlock on 4 PEs: lock acquisitions per second (the PEs' spinning differs between the two). */
function spinlockRows(): BenchRow[] {
  const elf = fixture('smp', 'spinlock');
  const name = 'spinlock among 4 PEs (fixtures/smp/spinlock, -smp 4)';
  const r = measureRate({
    name,
    elf,
    run: { smp: 4 },
    perIteration: 4,
    unit: 'k acquisitions/s',
    scale: 1e-3,
    probe: 500,
  });
  const perAcquisition = insnsPerIteration(elf, 4) / 4;
  return [
    {
      name: `${name}; hypstep retires ${perAcquisition.toFixed(0)} insns per acquisition: ${((r.hypstep.median * 1e3 * perAcquisition) / 1e6).toFixed(1)} MIPS`,
      hypstep: r.hypstep,
      qemu: r.qemu,
      unit: 'k acquisitions/s',
    },
  ];
}

/** `hypstep run` of the hello fixture beside QEMU's run of it: wall time, start to exit. */
function startupRows(): BenchRow[] {
  const elf = fixture('hello', 'hello');
  const wall = { hypstep: [] as number[], qemu: [] as number[] };
  const cpu = { hypstep: [] as number[], qemu: [] as number[] };
  const rss = { hypstep: [] as number[], qemu: [] as number[] };
  const rounds = QUICK ? 1 : 2 * ROUNDS + 1;
  for (let round = 0; round < rounds; round++) {
    const engines: Engine[] = round % 2 === 0 ? ['hypstep', 'QEMU'] : ['QEMU', 'hypstep'];
    const out: string[] = [];
    for (const engine of engines) {
      const key = engine === 'hypstep' ? 'hypstep' : 'qemu';
      const r = runTimed(engine, elf);
      out.push(r.stdout);
      wall[key].push(r.wall);
      cpu[key].push(r.cpu);
      rss[key].push(r.rss);
    }
    if (out[0] !== out[1]) throw new Error(`hello: hypstep's output differs from QEMU's`);
  }
  return [
    {
      name: 'start-up: hello fixture, start to exit (wall)',
      hypstep: stats(wall.hypstep),
      qemu: stats(wall.qemu),
      unit: 's',
    },
    { name: 'start-up: hello fixture, CPU time', hypstep: stats(cpu.hypstep), qemu: stats(cpu.qemu), unit: 's' },
    {
      name: 'hello fixture: peak RSS',
      hypstep: stats(rss.hypstep),
      qemu: stats(rss.qemu),
      unit: 'MiB',
      group: 'memory',
    },
  ];
}

// --- providers --------------------------------------------------------------------

/** Rows from another module of this directory (gdb.ts, world.ts). */
function fromModule(file: string, exportName: string, arg: unknown): () => Promise<BenchRow[]> {
  return async () => {
    const mod = (await import(new URL(file, import.meta.url).href)) as Record<string, unknown>;
    const f = mod[exportName] as (a: unknown) => BenchRow[] | Promise<BenchRow[]>;
    return await f(arg);
  };
}

const sync = (f: () => BenchRow[]) => () => Promise.resolve(f());

export const PROVIDERS: RowProvider[] = [
  { key: 'start', title: 'start-up', rows: sync(startupRows) },
  {
    key: 'loop4',
    title: '4-instruction loop',
    rows: sync(() => loopRows('4-instruction loop', fixture('bench', 'loop4'))),
  },
  { key: 'int', title: 'integer loop', rows: sync(() => loopRows('integer loop', fixture('bench', 'intloop'))) },
  {
    key: 'int4',
    title: 'integer loop on 4 PEs',
    rows: sync(() => loopRows('integer loop on 4 PEs (-smp 4), all PEs', fixture('bench', 'smploop'), 4)),
  },
  {
    key: 'ldst',
    title: 'load/store loop, 64 pages',
    rows: sync(() => loopRows('loads and stores, MMU on, 64 pages', fixture('bench', 'ldst64'))),
  },
  {
    key: 'sort',
    title: 'insertion sort and CRC-32',
    rows: sync(() => loopRows('insertion sort + bitwise CRC-32', fixture('bench', 'sortcrc'))),
  },
  {
    key: 'mem',
    title: 'memory loop, 1024 pages',
    rows: sync(() => loopRows('memory loop, MMU on, 1024 pages', fixture('bench', 'memloop'))),
  },
  { key: 'hvc', title: 'HVC round trips', rows: sync(() => hvcRows(false)) },
  { key: 'hvc-world', title: 'HVC round trips under the world layer', rows: sync(() => hvcRows(true)) },
  { key: 'lock', title: 'spinlock on 4 PEs', rows: sync(spinlockRows) },
  { key: 'gdb', title: 'gdb-multiarch rows (test/bench/gdb.ts)', rows: fromModule('./gdb.js', 'benchGdb', QUICK) },
  {
    key: 'world',
    title: 'world-switch layer, in process (test/bench/world.ts)',
    rows: fromModule('./world.js', 'benchWorld', QUICK ? 1 : 5),
  },
  { key: 'idle', title: 'an idle guest in WFI (test/bench/idle.ts)', rows: fromModule('./idle.js', 'benchIdle', null) },
  {
    key: 'linux',
    title: 'Linux boot with KVM (test/bench/linux.ts)',
    rows: fromModule('./linux.js', 'benchLinux', QUICK),
  },
  { key: 'fp', title: 'scalar FP and SIMD loops (test/bench/fp.ts)', rows: fromModule('./fp.js', 'benchFp', null) },
  { key: 'kvm', title: 'watching real KVM (test/bench/kvm.ts)', rows: fromModule('./kvm.js', 'benchKvm', QUICK) },
];

// --- the tables -----------------------------------------------------------------------

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

const median = (v: Stats | number): number => (typeof v === 'number' ? v : v.median);
const cell = (v: Stats | number | null): string =>
  v === null ? '-' : typeof v === 'number' ? fmt(v) : `${fmt(v.median)} (${fmt(v.min)}-${fmt(v.max)})`;

function printTable(title: string, rows: BenchRow[]): void {
  if (rows.length === 0) return;
  const cells = rows.map((r) => [
    r.name,
    cell(r.hypstep),
    cell(r.qemu),
    r.unit,
    r.qemu === null ? '-' : (median(r.hypstep) / median(r.qemu)).toPrecision(3),
  ]);
  const head = ['row', 'hypstep', 'QEMU', 'unit', 'hypstep/QEMU'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c.map((s, i) => (i === 0 || i === 3 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join('  ');
  console.log(`\n${title}`);
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

async function main(): Promise<number> {
  try {
    requireTool('qemu-system-aarch64');
    requireTool(GNU_TIME);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    return 1;
  }
  const only = env.HYPSTEP_BENCH_ROWS?.split(',');
  const unknown = only?.filter((k) => !PROVIDERS.some((p) => p.key === k)) ?? [];
  if (unknown.length > 0) {
    console.error(`bench: unknown rows ${unknown.join(', ')} (known: ${PROVIDERS.map((p) => p.key).join(', ')})`);
    return 1;
  }
  const rows: BenchRow[] = [];
  let failed = false;
  for (const p of PROVIDERS) {
    if (only && !only.includes(p.key)) continue;
    const t0 = performance.now();
    try {
      rows.push(...(await p.rows()));
      console.error(`bench: ${p.title}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (e) {
      failed = true;
      console.error(`bench: ${p.title} FAILED: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  console.log(QUICK ? 'QUICK MODE: every row ran once at a tiny length; the figures are not measurements.\n' : '');
  console.log(METHOD);
  printTable(
    'Speed (rates: higher is better; times: lower is better)',
    rows.filter((r) => (r.group ?? 'speed') === 'speed'),
  );
  printTable(
    'Peak memory (lower is better)',
    rows.filter((r) => r.group === 'memory'),
  );
  printTable(
    'Extra detail (hypstep in process; not comparable with the rows above)',
    rows.filter((r) => r.group === 'detail'),
  );
  return failed ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => {
      removeWorkDir();
      process.exit(code);
    },
    (e: unknown) => {
      console.error(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      removeWorkDir();
      process.exit(1);
    },
  );
}
