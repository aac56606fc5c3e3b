// `hypstep demo`: the table of every minihyp mode (see ./demo.ts).
import type { Command } from 'commander';
import { UsageError, parseCount } from '../cli/options.js';

export function demoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'run every minihyp mode under the world-switch layer and print exits, EL2 work per exit, loads/puts and the guest verdict',
    )
    .option('--modes <list>', 'comma-separated modes (default: all the layout describes)')
    .option(
      '--exits-per-put <n>',
      "the host's time slice: put a vcpu after at most N exits (sooner when the VMM must run; minihyp's default 24)",
    )
    .option('--json', 'print the rows as JSON')
    .action(async (o: { modes?: string; json?: boolean; exitsPerPut?: string }) => {
      // Loaded for the demo only: `hypstep run` starts without it.
      const { demoReading, demoTable, minihypModes, runDemo } = await import('./demo.js');
      const all = minihypModes();
      const modes = o.modes ? o.modes.split(',').map((m) => m.trim()) : all;
      for (const m of modes)
        if (!all.includes(m)) throw new UsageError(`unknown mode '${m}' (known: ${all.join(', ')})`);
      const sliceExits = o.exitsPerPut === undefined ? undefined : parseCount(o.exitsPerPut, 'exits per put');
      const rows = runDemo({
        modes,
        ...(sliceExits !== undefined ? { sliceExits } : {}),
        progress: (m) => process.stderr.write(`hypstep demo: running ${m}…\n`),
      });
      if (o.json) {
        process.stdout.write(JSON.stringify(rows, null, 1) + '\n');
        return;
      }
      process.stdout.write(demoTable(rows));
      process.stdout.write('\n' + demoReading(rows));
      process.stdout.write(
        '\nexits: guest exits seen by hypstep; EL2 insns and MSR/MRS: hypervisor work from an exit to the next entry (means);\n' +
          'HVC round trip: mean instructions from a guest HVC to its next instruction; loads/puts: loaded-flag sets and clears;\n' +
          'insns per load/put: mean instructions from the entry of vcpu_load/vcpu_put to the flag store;\n' +
          'exits/put: exits per vcpu_put in this run; host insns/exit all in: every instruction outside the guest from an exit\n' +
          'to the next entry (exit handling, the VMM, the loads and puts in between), per exit;\n' +
          'hazards: residency-checker findings (the bug-* modes are built to have one).\n',
      );
      process.exitCode = rows.every((r) => r.result === (r.mode.startsWith('bug-') ? 'FAIL' : 'PASS')) ? 0 : 1;
    });
}
