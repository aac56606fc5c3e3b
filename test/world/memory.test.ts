// Bounded memory by design: the world layer keeps aggregates and a ring of recent records,
// `--report` and `--trace world` write each row and forget it, and the gdb stub keeps no
// per-exit history. A child process runs the HVC loop under all of them at once (the stub
// listening on loopback with no client) and measures the heap after a full collection at
// N and at 10N exits: before the layer was bounded it grew by about 320 bytes per exit.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ring } from '../../src/world/history.js';
import { HeapWatch } from '../../src/cli/limits.js';
import { repoRoot } from '../helpers/tools.js';

const ROOT = repoRoot();
const N = 20_000;

const CHILD = `
import { readFileSync, openSync, writeSync } from 'node:fs';
const d = (p) => ${JSON.stringify(ROOT)} + '/dist/' + p;
const { Machine } = await import(d('src/board/machine.js'));
const { parseElf } = await import(d('src/loader/elf.js'));
const { worldForRun, worldForGdb } = await import(d('src/world/cli.js'));
const { startGdbServer } = await import(d('src/debug/gdb.js'));
const [elf, report, n] = process.argv.slice(2);
const m = new Machine({ uartOut: () => {} });
m.load(parseElf(readFileSync(elf), elf));
const devnull = openSync('/dev/null', 'w');
const run = worldForRun(m, elf, { traceWorld: '', report }, (l) => writeSync(devnull, l + '\\n'), (s) => new Error(s));
const heap = [];
run.world.on((e) => {
  if (e.type !== 'exit' || (e.exit.n !== Number(n) && e.exit.n !== 10 * Number(n))) return;
  globalThis.gc();
  globalThis.gc();
  heap.push(process.memoryUsage().heapUsed);
  if (heap.length === 2) {
    run.finish(0, { icount: m.cpu.icount, guestResult: 'stopped by the test' });
    process.stdout.write(JSON.stringify({ heap, recent: run.world.recent.exits.toArray().length }));
    process.exit(0);
  }
});
await startGdbServer(m, { port: 0, waitForDebugger: false, setup: (h) => worldForGdb(h, run.world, elf) });
`;

describe('bounded memory', () => {
  it(`the heap does not grow from ${N} to ${10 * N} exits with --report, --trace world and the stub listening`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'hypstep-memory-'));
    try {
      const script = join(dir, 'child.mjs');
      writeFileSync(script, CHILD);
      const report = join(dir, 'run.json');
      const elf = join(ROOT, 'fixtures/hvcloop/build/hvcloop-10m.elf');
      const r = spawnSync('node', ['--expose-gc', script, elf, report, String(N)], {
        encoding: 'utf8',
        timeout: 300_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const { heap, recent } = JSON.parse(r.stdout) as { heap: [number, number]; recent: number };
      const perExit = (heap[1] - heap[0]) / (9 * N);
      // A leak of one small object per exit would be ≥ 40 bytes; the old log kept about 320.
      expect(perExit, `heap ${heap.map((h) => (h / 2 ** 20).toFixed(1)).join(' → ')} MiB`).toBeLessThan(8);
      expect(recent).toBe(1024);
      // The report holds every exit up to the stop (the last one still open).
      const rep = JSON.parse(readFileSync(report, 'utf8')) as { exits: { n: number }[] };
      expect(rep.exits.length).toBe(10 * N);
      expect(rep.exits.every((x, i) => x.n === i + 1)).toBe(true);
      expect(statSync(report).size).toBeGreaterThan(10 * N * 100);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('the bounded records', () => {
  it('a ring keeps the last items in order and counts them all', () => {
    const r = new Ring<number>(3);
    expect(r.toArray()).toEqual([]);
    for (let i = 1; i <= 2; i++) r.push(i);
    expect(r.toArray()).toEqual([1, 2]);
    for (let i = 3; i <= 7; i++) r.push(i);
    expect([r.toArray(), r.total]).toEqual([[5, 6, 7], 7]);
  });

  it('the heap watch stops a run only when the heap stays nearly full', () => {
    let used = 50;
    const w = new HeapWatch(() => ({ used_heap_size: used * 2 ** 20, heap_size_limit: 100 * 2 ** 20 }));
    expect([w.exhausted(), w.exhausted(), w.exhausted()]).toEqual([null, null, null]);
    used = 90;
    expect([w.exhausted(), w.exhausted()]).toEqual([null, null]);
    used = 60; // collected: a passing peak is not a limit
    expect(w.exhausted()).toBeNull();
    used = 95;
    expect([w.exhausted(), w.exhausted(), w.exhausted()]).toEqual([
      null,
      null,
      'the JavaScript heap is nearly full (95 of 100 MiB in use)',
    ]);
  });
});
