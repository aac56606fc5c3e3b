// `--trace exceptions`: one line per exception taken and per exception return, on stderr.
import type { CpuObserver } from '../cpu/events.js';
import { describeEsr } from '../cpu/syndrome.js';
import { hex } from '../cpu/bits.js';

const KIND = ['sync', 'IRQ', 'FIQ', 'SError'];

/** `label` goes before each line's event (a PE's name on a machine of several). */
export function exceptionTracer(write: (line: string) => void, icount: () => number, label = ''): CpuObserver {
  return {
    exceptionTaken(e) {
      const what = e.kind === 0 ? `${describeEsr(e.esr)} ESR ${hex(e.esr)}` : KIND[e.kind]!;
      write(
        `[${icount()}] ${label}exception EL${e.fromEL} -> EL${e.toEL}: ${what} ELR ${hex(e.elr)} FAR ${hex(e.far)} vector ${hex(e.vector)}`,
      );
    },
    exceptionReturned(e) {
      write(`[${icount()}] ${label}eret EL${e.fromEL} -> EL${e.toEL}: PC ${hex(e.pc)} SPSR ${hex(e.spsr)}`);
    },
  };
}
