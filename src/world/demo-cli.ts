// `hypstep demo`: the table of every minihyp mode (see ./demo.ts).
import type { Command } from 'commander';
import { UsageError } from '../cli/options.js';
import { demoTable, minihypModes, runDemo } from './demo.js';

export function demoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'run every minihyp mode under the world-switch layer and print exits, EL2 work per exit, loads/puts and the guest verdict',
    )
    .option('--modes <list>', 'comma-separated modes (default: all the layout describes)')
    .option('--json', 'print the rows as JSON')
    .action((o: { modes?: string; json?: boolean }) => {
      const all = minihypModes();
      const modes = o.modes ? o.modes.split(',').map((m) => m.trim()) : all;
      for (const m of modes)
        if (!all.includes(m)) throw new UsageError(`unknown mode '${m}' (known: ${all.join(', ')})`);
      const rows = runDemo({ modes, progress: (m) => process.stderr.write(`hypstep demo: running ${m}…\n`) });
      if (o.json) {
        process.stdout.write(JSON.stringify(rows, null, 1) + '\n');
        return;
      }
      process.stdout.write(demoTable(rows));
      process.stdout.write(
        '\nexits: guest exits seen by hypstep; EL2 insns and MSR/MRS: hypervisor work from an exit to the next entry;\n' +
          'HVC round trip: median instructions from a guest HVC to its next instruction; loads/puts: loaded-flag sets and clears;\n' +
          'insns per load/put: median instructions from the first access to a governed slot (or the hyp call making it) to the flag store;\n' +
          'hazards: residency-checker findings (the bug-* modes are built to have one).\n',
      );
      process.exitCode = rows.every((r) => r.result === (r.mode.startsWith('bug-') ? 'FAIL' : 'PASS')) ? 0 : 1;
    });
}
