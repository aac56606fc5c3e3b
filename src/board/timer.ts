// The generic timers of each PE: the EL1 physical and virtual timers (CNTP_*, CNTV_*, the
// latter counting CNTPCT - CNTVOFF_EL2), the EL2 physical timer (CNTHP_*) and the EL2 virtual
// timer of FEAT_VHE (CNTHV_*), each a level-sensitive PPI as on QEMU's virt (30, 27, 26, 28).
// Their registers are the table's rows, given this behaviour on the machine. A timer that is
// enabled and not yet due registers its deadline with the clock, so a PE waiting in WFI for it
// costs nothing until then.
import type { SysregPe } from '../sysregs/special.js';
import { SR } from '../sysregs/registry.js';
import type { MachineSysregs } from '../sysregs/machine.js';
import { physicalCount } from '../sysregs/special.js';
import type { Clock } from './clock.js';
import { INTID, type Gic } from './gic.js';

export interface TimerSpec {
  /** The register prefix (CNTP_CTL_EL0, CNTHP_CTL_EL2…). */
  readonly prefix: string;
  readonly suffix: 'EL0' | 'EL2';
  readonly intid: number;
  /** Counts CNTPCT - CNTVOFF_EL2 (the EL1 virtual timer) rather than CNTPCT. */
  readonly virtualOffset: boolean;
  readonly label: string;
}

export const TIMERS: readonly TimerSpec[] = [
  { prefix: 'CNTP', suffix: 'EL0', intid: INTID.PHYS_TIMER, virtualOffset: false, label: 'EL1 physical timer' },
  { prefix: 'CNTV', suffix: 'EL0', intid: INTID.VIRT_TIMER, virtualOffset: true, label: 'EL1 virtual timer' },
  { prefix: 'CNTHP', suffix: 'EL2', intid: INTID.HYP_TIMER, virtualOffset: false, label: 'EL2 physical timer' },
  { prefix: 'CNTHV', suffix: 'EL2', intid: INTID.HYP_VIRT_TIMER, virtualOffset: false, label: 'EL2 virtual timer' },
];

const ENABLE = 1n;
const IMASK = 2n;
const ISTATUS = 4n;
/** Deadlines further away than this (in ticks) are never reached in a run. */
const FAR = 2 ** 52;

export class GenericTimers {
  /** Per PE and timer: the condition was met (set when its deadline passed or a write found it due). */
  private readonly met: Uint8Array;
  private readonly cancels: ((() => void) | null)[];
  private readonly slots: { ctl: number; cval: number }[];

  constructor(
    private readonly pes: readonly SysregPe[],
    private readonly clock: Clock,
    private readonly gic: Gic,
    sysregs: MachineSysregs,
  ) {
    this.met = new Uint8Array(pes.length * TIMERS.length);
    this.cancels = new Array<(() => void) | null>(pes.length * TIMERS.length).fill(null);
    this.slots = TIMERS.map((t) => ({
      ctl: SR[`${t.prefix}_CTL_${t.suffix}`]!,
      cval: SR[`${t.prefix}_CVAL_${t.suffix}`]!,
    }));
    TIMERS.forEach((t, i) => {
      const { ctl, cval } = this.slots[i]!;
      this.gic.source(t.intid, t.label);
      sysregs.override(`${t.prefix}_CTL_${t.suffix}`, {
        read: (c) => (c.sr[ctl]! & 3n) | (this.status(c, i) ? ISTATUS : 0n),
        write: (c, v) => {
          c.sr[ctl] = v & 3n;
          this.evaluate(c, i);
        },
        // ISTATUS is the timer's condition, not state: a saved CTL holds whatever it was then.
        held: (v) => v & 3n,
      });
      sysregs.override(`${t.prefix}_CVAL_${t.suffix}`, {
        read: (c) => c.sr[cval]!,
        write: (c, v) => {
          c.sr[cval] = v;
          this.evaluate(c, i);
        },
      });
      sysregs.override(`${t.prefix}_TVAL_${t.suffix}`, {
        read: (c) => BigInt.asUintN(32, c.sr[cval]! - this.count(c, i)),
        write: (c, v) => {
          c.sr[cval] = BigInt.asUintN(64, this.count(c, i) + BigInt.asIntN(32, v));
          this.evaluate(c, i);
        },
      });
    });
    const virt = TIMERS.findIndex((t) => t.virtualOffset);
    sysregs.override('CNTVOFF_EL2', {
      read: (c) => c.sr[SR.CNTVOFF_EL2!]!,
      write: (c, v) => {
        c.sr[SR.CNTVOFF_EL2!] = v;
        this.evaluate(c, virt);
      },
    });
  }

  /** Every timer disabled and its interrupt low (a machine reset; the clock's deadlines are cleared with it). */
  reset(): void {
    this.met.fill(0);
    this.cancels.fill(null);
    this.pes.forEach((_, pe) => TIMERS.forEach((t) => this.gic.setPpi(pe, t.intid, false)));
  }

  /** The count timer `i` compares with. */
  private count(c: SysregPe, i: number): bigint {
    const p = physicalCount(c);
    return TIMERS[i]!.virtualOffset ? BigInt.asUintN(64, p - c.sr[SR.CNTVOFF_EL2!]!) : p;
  }

  /** ISTATUS: enabled and the compare value reached. */
  private status(c: SysregPe, i: number): boolean {
    const { ctl, cval } = this.slots[i]!;
    if ((c.sr[ctl]! & ENABLE) === 0n) return false;
    return this.met[c.index * TIMERS.length + i] !== 0 || this.count(c, i) >= c.sr[cval]!;
  }

  /** After a write: whether the timer is due now, its interrupt, and the deadline at which it will be. */
  private evaluate(c: SysregPe, i: number): void {
    const k = c.index * TIMERS.length + i;
    this.cancels[k]?.();
    this.cancels[k] = null;
    const { ctl, cval } = this.slots[i]!;
    this.met[k] = 0;
    if ((c.sr[ctl]! & ENABLE) !== 0n) {
      const left = c.sr[cval]! - this.count(c, i);
      if (left <= 0n) this.met[k] = 1;
      else if (left < BigInt(FAR)) {
        this.cancels[k] = this.clock.at(Number(physicalCount(c)) + Number(left), () => {
          this.cancels[k] = null;
          this.met[k] = 1;
          this.drive(c, i);
        });
      }
    }
    this.drive(c, i);
  }

  /** The timer's interrupt output: ENABLE, not IMASK, condition met. */
  private drive(c: SysregPe, i: number): void {
    const ctl = c.sr[this.slots[i]!.ctl]!;
    const level = this.met[c.index * TIMERS.length + i] !== 0 && (ctl & (ENABLE | IMASK)) === ENABLE;
    this.gic.setPpi(c.index, TIMERS[i]!.intid, level);
  }

  /** `monitor timer`: each timer of PE `c` with its control, compare value and time left. */
  view(c: SysregPe): { spec: TimerSpec; ctl: bigint; cval: bigint; count: bigint; left: bigint; asserted: boolean }[] {
    return TIMERS.map((spec, i) => {
      const { ctl, cval } = this.slots[i]!;
      const count = this.count(c, i);
      const status = this.status(c, i);
      const control = (c.sr[ctl]! & 3n) | (status ? ISTATUS : 0n);
      return {
        spec,
        ctl: control,
        cval: c.sr[cval]!,
        count,
        left: c.sr[cval]! - count,
        asserted: status && (control & IMASK) === 0n,
      };
    });
  }
}
