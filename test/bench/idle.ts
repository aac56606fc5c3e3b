// What an idle guest costs: fixtures/gic/idle counts 100 ticks of a 1 kHz timer waiting for
// each in WFI; idle-busy counts the same ticks polling. A PE in WFI retires no instruction
// and the clock jumps to the timer's deadline, so the idle run should cost well under 1% of
// the busy one's instructions. QEMU has no such row: its instruction count is not observable
// without -icount.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine } from '../../src/board/machine.js';
import { parseElf } from '../../src/loader/elf.js';
import { repoRoot } from '../helpers/tools.js';
import type { BenchRow } from './bench.js';

function runIdle(name: string): { icount: number } {
  const path = join(repoRoot(), 'fixtures', 'gic', 'build', `${name}.elf`);
  let uart = '';
  const m = new Machine({ uartOut: (b) => (uart += Buffer.from(b).toString('latin1')), consoleOut: () => {} });
  m.load(parseElf(readFileSync(path), path));
  const r = m.run(100_000_000);
  if (r.kind !== 'exit' || !uart.includes('ticks counted 0000000000000064'))
    throw new Error(`${name}: did not count 100 ticks (${r.kind}): ${uart}`);
  return { icount: m.icount };
}

export function benchIdle(): BenchRow[] {
  const idle = runIdle('idle');
  const busy = runIdle('idle-busy');
  const row = (name: string, hypstep: number, unit: string): BenchRow => ({
    name,
    hypstep,
    qemu: null,
    unit,
    group: 'detail',
  });
  return [
    row('100 ticks of a 1 kHz timer, guest in WFI', idle.icount, 'insns'),
    row('… the same ticks, guest polling', busy.icount, 'insns'),
    row('… WFI as a share of polling', (100 * idle.icount) / busy.icount, '% of insns'),
  ];
}
