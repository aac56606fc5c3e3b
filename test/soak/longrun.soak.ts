// The long run: 10 million guest exits (fixtures/hvcloop) with `--report run.json` and the gdb
// stub listening on loopback with no client, which before the world layer was bounded reached
// gigabytes. Peak RSS (the kernel's VmHWM) must stay under RSS_BOUND, and the report must hold
// every exit, numbered 1 to 10,000,000, with the summary counting the same. `--quick` runs the
// 10,000-exit build.
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SoakBudget } from './run.js';

/** The stated bound: about three times what 10 million exits measured (87 MiB). */
export const RSS_BOUND = 256 * 2 ** 20;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CLI = join(ROOT, 'dist/src/cli/main.js');

/** The kernel's peak resident set of a live process, in bytes (0 once it is gone). */
function peakRss(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Reads the report a line at a time (a 10-million-exit report is over 2 GB): every exit in order, then the rest. */
async function checkReport(file: string, exits: number): Promise<void> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let inExits = false;
  let n = 0;
  const rest: string[] = [];
  for await (const line of lines) {
    if (line === ' "exits": [') {
      inExits = true;
      rest.push(' "exits": [');
      continue;
    }
    if (inExits && line === ' ],') inExits = false;
    if (!inExits) {
      rest.push(line);
      continue;
    }
    const row = JSON.parse(line.replace(/,$/, '')) as { n: number; reason: string };
    if (row.n !== ++n) throw new Error(`report row ${n} is exit #${row.n}`);
    const want = n < exits ? 'HVC #0x0' : 'HVC #0x1';
    if (row.reason !== want) throw new Error(`exit #${n} is '${row.reason}', expected '${want}'`);
  }
  if (n !== exits) throw new Error(`the report holds ${n} exits, expected ${exits}`);
  const r = JSON.parse(rest.join('\n')) as { summary: { exits: number }; guestResult: string };
  if (r.summary.exits !== exits) throw new Error(`the summary counts ${r.summary.exits} exits`);
  if (!/exit status 0$/.test(r.guestResult)) throw new Error(`guestResult '${r.guestResult}'`);
}

export async function soak(budget: SoakBudget): Promise<void> {
  const exits = budget.scale < 1 ? 10_000 : 10_000_000;
  const elf = join(ROOT, `fixtures/hvcloop/build/hvcloop-${exits === 10_000 ? '10k' : '10m'}.elf`);
  const dir = mkdtempSync(join(tmpdir(), 'hypstep-longrun-'));
  try {
    const report = join(dir, 'run.json');
    const started = Date.now();
    const child = spawn('node', [CLI, 'run', '--gdb', '127.0.0.1:0', '--report', report, elf], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    let peak = 0;
    const poll = setInterval(() => (peak = Math.max(peak, peakRss(child.pid!))), 100);
    const timeout = setTimeout(() => child.kill('SIGKILL'), 30 * 60_000);
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    clearInterval(poll);
    clearTimeout(timeout);
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `  ${exits.toLocaleString('en-US')} exits in ${seconds.toFixed(1)} s; peak RSS ${(peak / 2 ** 20).toFixed(1)} MiB ` +
        `(bound ${RSS_BOUND / 2 ** 20} MiB)`,
    );
    if (code !== 0) throw new Error(`hypstep exited with ${code}: ${err.slice(-500)}`);
    if (out !== `hvcloop: exits 0x${exits.toString(16).padStart(16, '0')}\n`) throw new Error(`guest said '${out}'`);
    if (!err.includes(`world report written to ${report} (${exits} exits)`)) throw new Error(err.slice(-500));
    if (peak === 0) throw new Error('peak RSS was never read');
    if (peak > RSS_BOUND) throw new Error(`peak RSS ${peak} bytes is over the bound of ${RSS_BOUND}`);
    await checkReport(report, exits);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
