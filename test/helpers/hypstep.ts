// Runs an image on hypstep in-process, the way `hypstep run` does, collecting the UART output.
import { readFileSync } from 'node:fs';
import { Machine, type MachineOptions } from '../../src/board/machine.js';
import { parseElf } from '../../src/loader/elf.js';

export interface HypstepRun {
  stdout: string;
  console: string;
  exitCode: number | null;
  stop: string;
  icount: number;
}

export function runHypstep(
  elfPath: string,
  budget = 50_000_000,
  opts: Pick<MachineOptions, 'smp' | 'quantum'> = {},
): HypstepRun {
  let stdout = '';
  let console = '';
  const m = new Machine({
    ...opts,
    uartOut: (b) => {
      stdout += Buffer.from(b).toString('latin1');
    },
    consoleOut: (b) => {
      console += Buffer.from(b).toString('latin1');
    },
  });
  m.load(parseElf(readFileSync(elfPath), elfPath));
  const r = m.run(budget);
  const stop = r.kind === 'unimplemented' ? `unimplemented: ${r.message}` : r.kind;
  return { stdout, console, exitCode: m.exitCode, stop, icount: m.icount };
}
