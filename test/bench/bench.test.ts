// `npm run bench` in quick mode: every row runs once at a tiny length and prints (its figures
// are not checked: speed lives in the bench, not in tests); row selection; and the bench
// fixtures rebuild byte for byte.
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/tools.js';
import { rebuildDiffers } from '../helpers/rebuild.js';

const BENCH = join(repoRoot(), 'dist/test/bench/bench.js');

async function bench(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [BENCH, '--quick'], {
      env: { ...process.env, ...env },
      maxBuffer: 1 << 24,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** Every row the issue asks for, by the start of its name, and the table it is in. */
const ROWS = [
  'start-up: hello fixture, start to exit (wall)',
  '4-instruction loop (',
  'integer loop (',
  'integer loop on 4 PEs (-smp 4)',
  'loads and stores, MMU on, 64 pages (',
  'insertion sort + bitwise CRC-32 (',
  'memory loop, MMU on, 1024 pages (',
  'HVC round trips, world layer off',
  'HVC round trips, layout bound, residency checker on',
  'spinlock among 4 PEs',
  'gdb-multiarch stepi',
  'gdb-multiarch info registers',
  'hello fixture: peak RSS',
  'integer loop: peak RSS',
  'memory loop, MMU on, 1024 pages: peak RSS',
  '10,000 HVC round trips, layout bound, checker on: peak RSS',
  'integer loop, hypstep in process after warm-up',
  'scalar FP loop (',
  'SIMD loop (',
  'HVC round trips: CPU time per round trip, checker on vs world layer off',
  'HVC round trips: CPU time per round trip, layout bound, checker off vs world layer off',
  'minihyp vhe-deferred: layout bound, checker off, time vs world layer off',
  'minihyp vhe-deferred: layout bound, checker on, time vs world layer off',
];

describe('npm run bench', () => {
  it('quick mode: every row prints with figures for hypstep and QEMU', async () => {
    const r = await bench({});
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('QUICK MODE');
    const lines = r.stdout.split('\n');
    for (const row of ROWS) {
      const line = lines.find((l) => l.startsWith(row));
      expect(line, `no row '${row}' in\n${r.stdout}`).toBeDefined();
      // hypstep's figure, then QEMU's (or '-' where QEMU has none), then the unit and the ratio.
      expect(line!.slice(row.length)).toMatch(/\s\d[\d.]*(\s\(\S+\))?\s+(\d[\d.]*(\s\(\S+\))?|-)\s+\S/);
    }
  }, 900_000);

  it('HYPSTEP_BENCH_ROWS picks rows and refuses unknown ones', async () => {
    const r = await bench({ HYPSTEP_BENCH_ROWS: 'start' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('start-up: hello fixture');
    expect(r.stdout).not.toContain('integer loop');
    const bad = await bench({ HYPSTEP_BENCH_ROWS: 'start,nosuch' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown rows nosuch');
  }, 120_000);

  it('the bench fixtures rebuild byte for byte from a copy at another path', async () => {
    expect(await rebuildDiffers('bench')).toEqual([]);
  }, 300_000);
});
