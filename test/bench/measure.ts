// How the bench runs and times a program: whole processes of `hypstep run` (the built CLI) and
// of qemu-system-aarch64, each under GNU time, which reports the child's wall time, CPU time
// (user + system, every thread) and peak resident set size (its getrusage ru_maxrss: the
// kernel's high-water mark of the process's resident pages, in KiB).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseElf } from '../../src/loader/elf.js';
import { QEMU_ARGS } from '../helpers/qemu.js';
import { repoRoot } from '../helpers/tools.js';

/** GNU time (Debian's `time` package; `npm run setup` installs it): not the shell's keyword. */
export const GNU_TIME = '/usr/bin/time';

/** The hypstep command line timed: the built CLI, or another build's (before/after comparisons). */
export const HYPSTEP_CLI = process.env.HYPSTEP_BENCH_CLI ?? join(repoRoot(), 'dist/src/cli/main.js');

export const workDir = mkdtempSync(join(tmpdir(), 'hypstep-bench-'));
export function removeWorkDir(): void {
  rmSync(workDir, { recursive: true, force: true });
}

export interface ProcessRun {
  /** Seconds of wall time. */
  wall: number;
  /** Seconds of CPU time, user + system, over every thread. */
  cpu: number;
  /** Peak resident set size in MiB. */
  rss: number;
  stdout: string;
  stderr: string;
}

export type Engine = 'hypstep' | 'QEMU';

export interface RunOptions {
  smp?: number;
  /** Options for `hypstep run` only (e.g. --vcpu-layout). */
  hypstepArgs?: readonly string[];
}

/**
 * The environment both engines run in: this one without NODE_EXTRA_CA_CERTS, which makes every
 * node process read and parse a bundle of certificates before it runs any JavaScript (about
 * 80 ms of CPU on this machine, where the sandbox sets it). A user's shell does not set it and
 * QEMU does not read it; hypstep never opens a TLS connection.
 */
export const BENCH_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'),
);

/** Runs `elf` to its end on `engine` under GNU time; a failure (non-zero status) throws with its stderr. */
export function runTimed(engine: Engine, elf: string, o: RunOptions = {}): ProcessRun {
  const smp = String(o.smp ?? 1);
  const cmd =
    engine === 'hypstep'
      ? [process.execPath, HYPSTEP_CLI, 'run', ...(o.smp ? ['-smp', smp] : []), ...(o.hypstepArgs ?? []), elf]
      : ['qemu-system-aarch64', ...QEMU_ARGS, '-smp', smp, '-kernel', elf];
  const out = join(workDir, 'time.txt');
  const r = spawnSync(GNU_TIME, ['-f', '%e %U %S %M', '-o', out, ...cmd], {
    env: BENCH_ENV,
    encoding: 'latin1',
    timeout: 600_000,
    maxBuffer: 1 << 26,
  });
  if (r.error) throw new Error(`${engine} on ${basename(elf)}: ${r.error.message}`);
  if (r.status !== 0)
    throw new Error(`${engine} on ${basename(elf)} exited with status ${r.status}: ${r.stderr.slice(-500)}`);
  // A failed command adds a line before the figures: they are on the last line.
  const f = readFileSync(out, 'latin1').trim().split('\n').pop()!.split(' ').map(Number);
  if (f.length !== 4 || f.some((x) => !Number.isFinite(x))) throw new Error(`cannot read GNU time's output`);
  return { wall: f[0]!, cpu: f[1]! + f[2]!, rss: f[3]! / 1024, stdout: r.stdout, stderr: r.stderr };
}

const patched = new Map<string, string>();

/**
 * A copy of `elf` with its 64-bit `iterations` word set to `n` (in the work directory, made once
 * per fixture and count). Every bench fixture has that word in .rodata.
 */
export function withIterations(elf: string, n: number): string {
  const key = `${elf}#${n}`;
  let path = patched.get(key);
  if (path !== undefined) return path;
  const copy = Uint8Array.from(readFileSync(elf));
  const image = parseElf(copy);
  const sym = image.symbols.find((s) => s.name === 'iterations');
  if (!sym) throw new Error(`${basename(elf)} has no 'iterations' word`);
  const seg = image.segments.find((s) => sym.value >= s.vaddr && sym.value + 8n <= s.vaddr + BigInt(s.data.length));
  if (!seg) throw new Error(`${basename(elf)}: the iterations word is not in a loaded segment`);
  new DataView(seg.data.buffer, seg.data.byteOffset, seg.data.byteLength).setBigUint64(
    Number(sym.value - seg.vaddr),
    BigInt(n),
    true,
  );
  path = join(workDir, `${basename(elf, '.elf')}-${n}.elf`);
  writeFileSync(path, copy);
  patched.set(key, path);
  return path;
}

/** Median and range of a sample. */
export interface Stats {
  median: number;
  min: number;
  max: number;
}

export function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 === 1 ? s[n >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { median, min: s[0]!, max: s[n - 1]! };
}
