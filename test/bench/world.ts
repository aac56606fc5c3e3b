// What observing world switches costs: minihyp's vhe-deferred run with the world layer off,
// with accounting on (no catches, no layout), with the layout bound, and with the layout bound
// and the residency checker on. Reported as ratios to the run with the layer off (QEMU has no such layer).
import { performance } from 'node:perf_hooks';
import { runMode, type RunModeOptions } from '../../src/world/demo.js';
import type { BenchRow } from './bench.js';

const MODE = 'vhe-deferred';

function timeRun(o: RunModeOptions): { ms: number; icount: number; stop: string } {
  const t0 = performance.now();
  const r = runMode(MODE, o);
  return { ms: performance.now() - t0, icount: r.machine.cpu.icount, stop: r.stop };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

export function benchWorld(rounds = 5): BenchRow[] {
  const configs: [string, RunModeOptions][] = [
    ['off', { bare: true }],
    ['accounting', { noLayout: true }],
    ['layout', {}],
    ['checker', { check: true }],
  ];
  const times = new Map<string, number[]>(configs.map(([n]) => [n, []]));
  let icount = 0;
  // One unmeasured round warms the JIT for every configuration; then interleaved rounds, so
  // drift in machine load spreads over all; each round starts with another configuration, so
  // that none always pays for the garbage of the same one before it.
  for (const [, o] of configs) timeRun(o);
  for (let i = 0; i < rounds; i++) {
    for (let k = 0; k < configs.length; k++) {
      const [name, o] = configs[(i + k) % configs.length]!;
      const r = timeRun(o);
      if (r.stop !== 'exit')
        throw new Error(`minihyp ${MODE} did not run to its end (${r.stop}): the bench needs the complete CPU`);
      icount = r.icount;
      times.get(name)!.push(r.ms);
    }
  }
  const off = median(times.get('off')!);
  return [
    { name: `minihyp ${MODE} run, world layer off (${icount} instructions)`, hypstep: off, qemu: null, unit: 'ms' },
    {
      name: `minihyp ${MODE}: accounting on, catching off, time vs world layer off`,
      hypstep: median(times.get('accounting')!) / off,
      qemu: null,
      unit: '×',
    },
    {
      name: `minihyp ${MODE}: layout bound, checker off, time vs world layer off`,
      hypstep: median(times.get('layout')!) / off,
      qemu: null,
      unit: '×',
    },
    {
      name: `minihyp ${MODE}: layout bound, checker on, time vs world layer off (issue 16: at most 1.15)`,
      hypstep: median(times.get('checker')!) / off,
      qemu: null,
      unit: '×',
    },
  ];
}
