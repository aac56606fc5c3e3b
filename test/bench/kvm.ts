// What watching real KVM costs: the Linux fixture's boot (Debian's kernel, 2 PEs, KVM in VHE mode,
// kvm-hello's guest) from reset to power-off, in this process, with the world layer off, on (exits
// and entries accounted, no layout), and with `--vcpu-layout linux` bound and the residency checker
// on. CPU time of each run (process.cpuUsage), the configurations interleaved round by round so
// drift in the machine's load spreads over all three; the checker's cost is its time over the
// run with the layer off (the target: at most 1.15).
import { attachWorld, type WorldOptions } from '../../src/world/attach.js';
import { hypstepBoot } from './linux.js';
import type { BenchRow } from './bench.js';

/** Each round boots three times; a boot is minutes of CPU. */
const ROUNDS = Number(process.env.HYPSTEP_BENCH_KVM_ROUNDS ?? 1);

type Config = 'off' | 'on' | 'checker';

function boot(config: Config, quick: boolean): { cpu: number; icount: number; exits: number; hazards: number } {
  // Binding reads the kernel's BTF and kallsyms: part of what the checker costs.
  const options = (kernel: string): WorldOptions =>
    config === 'checker' ? { layout: 'linux', imagePath: kernel, check: true } : { imagePath: kernel };
  const r = hypstepBoot(quick, (m, kernel) => {
    if (config === 'off') return null;
    const world = attachWorld(m, options(kernel));
    world.stop = () => {};
    return world;
  });
  return {
    cpu: r.cpu,
    icount: r.icount,
    exits: r.watcher?.exits ?? 0,
    hazards: r.watcher?.recent.hazards.total ?? 0,
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export function benchKvm(quick: boolean): BenchRow[] {
  const configs: Config[] = ['off', 'on', 'checker'];
  const cpu = new Map<Config, number[]>(configs.map((c) => [c, []]));
  let exits = 0,
    hazards = 0,
    icount = 0;
  for (let i = 0; i < (quick ? 1 : ROUNDS); i++)
    for (const c of configs) {
      const r = boot(c, quick);
      cpu.get(c)!.push(r.cpu);
      if (c === 'checker') ({ exits, hazards, icount } = r);
    }
  const off = median(cpu.get('off')!);
  const name = 'KVM boot to power-off (Debian 6.1, kvm-hello, VHE)';
  return [
    { name: `${name}, world layer off, CPU`, hypstep: off, qemu: null, unit: 's' },
    {
      name: '… world layer on (exits accounted, no layout), time vs off',
      hypstep: median(cpu.get('on')!) / off,
      qemu: null,
      unit: '×',
    },
    {
      name: `… --vcpu-layout linux and the residency checker (${exits} exits, ${hazards} hazards), time vs off (target ≤ 1.15)`,
      hypstep: median(cpu.get('checker')!) / off,
      qemu: null,
      unit: '×',
    },
    { name: '… instructions in the boot', hypstep: icount, qemu: null, unit: 'insns', group: 'detail' },
  ];
}
