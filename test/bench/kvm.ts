// What watching real KVM costs: the Linux fixture's boot (Debian's kernel, 2 PEs, KVM in VHE mode,
// kvm-hello's guest) from reset to power-off, in this process, with the world layer off, on (exits
// and entries accounted, no layout), and with `--vcpu-layout linux` bound and the residency checker
// on. CPU time of each run (process.cpuUsage), the configurations interleaved round by round so
// drift in the machine's load spreads over all three; the checker's cost is its time over the
// run with the layer off (the target: at most 1.15).
import { readFileSync } from 'node:fs';
import { Machine } from '../../src/board/machine.js';
import { prepareBoot } from '../../src/loader/boot.js';
import { attachWorld, type WorldOptions } from '../../src/world/attach.js';
import { LINUX_BOOT, linuxFixture, untimed } from '../helpers/linux.js';
import type { BenchRow } from './bench.js';

const END = 'kvm-hello: done';
/** Quick mode: the boot's first instructions only (the rows print; their figures mean nothing). */
const QUICK_INSNS = 20_000_000;
/** Each round boots three times; a boot is minutes of CPU. */
const ROUNDS = Number(process.env.HYPSTEP_BENCH_KVM_ROUNDS ?? 1);

type Config = 'off' | 'on' | 'checker';

function boot(config: Config, quick: boolean): { cpu: number; icount: number; exits: number; hazards: number } {
  const f = linuxFixture();
  const args = LINUX_BOOT(f);
  const file = (path: string) => ({ path, bytes: new Uint8Array(readFileSync(path)) });
  const image = prepareBoot({
    kernel: file(f.kernel),
    initrd: file(f.initrd),
    append: args[args.indexOf('-append') + 1]!,
    ramSize: 1 << 30,
    smp: 2,
  }).image;
  let uart = '';
  const m = new Machine({
    memory: 1 << 30,
    smp: 2,
    noReboot: true,
    uartOut: (b) => (uart += Buffer.from(b).toString('latin1')),
    consoleOut: () => {},
  });
  m.load(image);
  const cpu0 = process.cpuUsage();
  // Binding reads the kernel's BTF and kallsyms: part of what the checker costs.
  const opts: WorldOptions =
    config === 'checker' ? { layout: 'linux', imagePath: f.kernel, check: true } : { imagePath: f.kernel };
  const world = config === 'off' ? null : attachWorld(m, opts);
  if (world) world.stop = () => {};
  for (;;) {
    const r = m.run(quick ? QUICK_INSNS - m.icount : 100_000_000);
    if (r.kind === 'exit' || (quick && m.icount >= QUICK_INSNS)) break;
    if (r.kind === 'unimplemented' || r.kind === 'stuck' || r.kind === 'idle')
      throw new Error(`the KVM boot (${config}) stopped after ${m.icount} instructions: ${r.message}`);
  }
  const used = process.cpuUsage(cpu0);
  if (!quick && !untimed(uart).includes(END)) throw new Error(`the KVM boot (${config}) ended before '${END}'`);
  return {
    cpu: (used.user + used.system) / 1e6,
    icount: m.icount,
    exits: world?.exits ?? 0,
    hazards: world?.recent.hazards.total ?? 0,
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
