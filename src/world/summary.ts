// Aggregates of the world layer: what `monitor world stats`, the report and the demo show.
// Computed from the layer's running sums, never from its logs, so they cover every record
// however many the logs keep.
import type { ExitCategory } from './reason.js';
import type { CostSums, World } from './world.js';

export interface CostMeans {
  /** Records seen (exits of this reason, loads, puts). */
  readonly count: number;
  /** Records the means are over: those whose costs are final (an exit's, once the guest is re-entered). */
  readonly closed: number;
  readonly el2Insns: number;
  readonly hostInsns: number;
  readonly sysregs: number;
}

export interface WorldSummary {
  readonly exits: number;
  readonly entries: number;
  readonly perExit: CostMeans;
  readonly byReason: Partial<Record<ExitCategory, CostMeans>>;
  /** Mean instructions from a guest's HVC to its next instruction (HVC and ERET included); null without HVC exits. */
  readonly hvcRoundTrip: number | null;
  readonly loads: number;
  readonly puts: number;
  /**
   * Means over loads and puts, each charged from its start (its function's entry, or its first
   * governed access) to its flag store.
   */
  readonly perLoad: CostMeans;
  readonly perPut: CostMeans;
  /** MSR/MRS per closed exit by register, most frequent first. */
  readonly sysregsPerExit: readonly (readonly [string, number])[];
  readonly hazards: number;
  /** Hazards counted once per kind, vcpu, register and instruction. */
  readonly distinctHazards: number;
  /** Each PE's share: its exits (with their means), entries, loads, puts and hazards. */
  readonly pes: readonly PeSummary[];
}

export interface PeSummary {
  readonly pe: number;
  readonly exits: number;
  readonly entries: number;
  readonly perExit: CostMeans;
  readonly loads: number;
  readonly puts: number;
  readonly hazards: number;
}

export function means(s: CostSums): CostMeans {
  const per = (x: number) => (s.closed === 0 ? 0 : x / s.closed);
  return {
    count: s.count,
    closed: s.closed,
    el2Insns: per(s.el2Insns),
    hostInsns: per(s.hostInsns),
    sysregs: per(s.sysregs),
  };
}

export function summarise(w: World): WorldSummary {
  const s = w.sums;
  const byReason: Partial<Record<ExitCategory, CostMeans>> = {};
  for (const [cat, c] of s.byReason) byReason[cat] = means(c);
  const closed = s.exits.closed;
  return {
    exits: w.exits,
    entries: w.entries,
    perExit: means(s.exits),
    byReason,
    hvcRoundTrip: s.hvcRoundTrip.closed ? s.hvcRoundTrip.hostInsns / s.hvcRoundTrip.closed : null,
    loads: s.load.count,
    puts: s.put.count,
    perLoad: means(s.load),
    perPut: means(s.put),
    sysregsPerExit: s.sysregsClosed
      .entries()
      .map(([r, n]) => [r, closed ? n / closed : 0] as const)
      .sort((a, b) => b[1] - a[1]),
    hazards: w.recent.hazards.total,
    distinctHazards: w.hazardGroups.size,
    pes: w.pes.map((p) => ({
      pe: p.index,
      exits: p.sums.exits.count,
      entries: p.entries,
      perExit: means(p.sums.exits),
      loads: p.sums.loads,
      puts: p.sums.puts,
      hazards: p.sums.hazards,
    })),
  };
}
