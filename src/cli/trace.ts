// `--trace exceptions`: one line per exception taken and per exception return, on stderr.
import type { CpuObserver } from '../cpu/events.js';
import { describeEsr } from '../cpu/syndrome.js';

const KIND = ['sync', 'IRQ', 'FIQ', 'SError'];
const h = (v: bigint | number) => '0x' + v.toString(16);

export function exceptionTracer(write: (line: string) => void, icount: () => number): CpuObserver {
  return {
    exceptionTaken(e) {
      const what = e.kind === 0 ? `${describeEsr(e.esr)} ESR ${h(e.esr)}` : KIND[e.kind]!;
      write(`[${icount()}] exception EL${e.fromEL} -> EL${e.toEL}: ${what} ELR ${h(e.elr)} FAR ${h(e.far)} vector ${h(e.vector)}`);
    },
    exceptionReturned(e) {
      write(`[${icount()}] eret EL${e.fromEL} -> EL${e.toEL}: PC ${h(e.pc)} SPSR ${h(e.spsr)}`);
    },
  };
}
