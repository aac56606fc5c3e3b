// A PE that makes no progress: each exception taken at the first instruction of the vector the
// one before it went to, and to that same vector, with no instruction retired in between (a
// vector table that is not there yet: VBAR still 0, an unmapped or UNDEFINED handler). After
// STUCK_CHAIN such exceptions the run stops with one line naming the exception that started
// the chain and its instruction, rather than spinning silently.
import type { ArchException } from '../pe/exception.js';
import type { PhysBus } from '../board/bus.js';
import { disassemble } from './disasm.js';
import { ecName } from './syndrome.js';

/** Exceptions in a row, each at the previous one's vector, after which a PE counts as stuck. */
export const STUCK_CHAIN = 1000;

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

export class StuckDetector {
  constructor(private readonly bus: PhysBus) {}

  /** The vector the last exception went to, and the instruction count just after it. */
  private vector = -1n;
  private icount = -1;
  private length = 0;
  /** The exception that began the current chain: its syndrome, PC, EL, and its instruction's PA (-1: not fetched). */
  private firstEc = 0;
  private firstPc = 0n;
  private firstEl = 0;
  private firstPa = -1;

  /**
   * Records an exception just taken from `pc` (an instruction at physical `pa`, or -1) at
   * exception level `fromEl` to `vector`, with `icount` counting it; returns the stop message
   * once the PE is stuck.
   */
  taken(x: ArchException, pc: bigint, fromEl: number, pa: number, vector: bigint, icount: number): string | null {
    if (icount - 1 === this.icount && pc === this.vector && vector === pc) {
      if (++this.length >= STUCK_CHAIN) return this.describe(x, vector);
    } else {
      this.length = 0;
      this.firstEc = x.ec;
      this.firstPc = pc;
      this.firstEl = fromEl;
      this.firstPa = pa;
    }
    this.vector = vector;
    this.icount = icount;
    return null;
  }

  private describe(x: ArchException, vector: bigint): string {
    let insn = '';
    if (this.firstPa >= 0) {
      try {
        insn = `${disassemble(Number(this.bus.read(this.firstPa, 4)), this.firstPc)} `;
      } catch {
        insn = '';
      }
    }
    const plural = x.ec === 0 ? 'UNDEFINED instructions' : `${ecName(x.ec)}s`;
    return (
      `${ecName(this.firstEc)}: ${insn}at ${hex(this.firstPc)} (EL${this.firstEl}), then ${this.length} ` +
      `${plural} at ${hex(vector)} (EL${x.targetEL}'s vector) with no instruction completing: the PE is stuck`
    );
  }
}
