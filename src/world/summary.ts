// Aggregates of the world layer's records: what `monitor world stats`, the report and the demo show.
import type { ExitCategory } from './reason.js';
import type { Costs, World } from './world.js';

export interface CostMeans {
  readonly count: number;
  readonly el2Insns: number;
  readonly hostInsns: number;
  readonly sysregs: number;
}

export interface WorldSummary {
  readonly exits: number;
  readonly entries: number;
  /** Means over exits whose window is closed (the guest was re-entered). */
  readonly perExit: CostMeans;
  readonly byReason: Partial<Record<ExitCategory, CostMeans>>;
  /** Median instructions from a guest's HVC to its next instruction (HVC and ERET included); null without HVC exits. */
  readonly hvcRoundTrip: number | null;
  readonly loads: number;
  readonly puts: number;
  /** Medians over loads and puts, each charged from its first access to a governed slot to its flag store. */
  readonly perLoad: CostMeans;
  readonly perPut: CostMeans;
  /** MSR/MRS per closed exit by register, most frequent first. */
  readonly sysregsPerExit: readonly (readonly [string, number])[];
  readonly hazards: number;
}

function means(list: readonly Costs[]): CostMeans {
  const n = list.length;
  const sum = (f: (c: Costs) => number) => (n === 0 ? 0 : list.reduce((s, c) => s + f(c), 0) / n);
  return {
    count: n,
    el2Insns: sum((c) => c.el2Insns),
    hostInsns: sum((c) => c.hostInsns),
    sysregs: sum((c) => c.sysregTotal),
  };
}

/** Medians: a load or put at boot is charged with the boot itself, which would swamp a mean. */
function medians(list: readonly Costs[]): CostMeans {
  const m = (f: (c: Costs) => number) => median(list.map(f)) ?? 0;
  return {
    count: list.length,
    el2Insns: m((c) => c.el2Insns),
    hostInsns: m((c) => c.hostInsns),
    sysregs: m((c) => c.sysregTotal),
  };
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function summarise(w: World): WorldSummary {
  const closed = w.exitLog.filter((x) => x.closed);
  // Costs are means over the closed exits of a reason; the count is all of them.
  const cats = new Map<ExitCategory, { count: number; closed: Costs[] }>();
  for (const x of w.exitLog) {
    let c = cats.get(x.reason.category);
    if (c === undefined) cats.set(x.reason.category, (c = { count: 0, closed: [] }));
    c.count++;
    if (x.closed) c.closed.push(x);
  }
  const byReason: Partial<Record<ExitCategory, CostMeans>> = {};
  for (const [cat, c] of cats) byReason[cat] = { ...means(c.closed), count: c.count };
  const regs = new Map<string, number>();
  for (const x of closed) for (const [r, n] of Object.entries(x.sysregs)) regs.set(r, (regs.get(r) ?? 0) + n);
  const loads = w.loadPutLog.filter((r) => r.type === 'load');
  const puts = w.loadPutLog.filter((r) => r.type === 'put');
  return {
    exits: w.exits,
    entries: w.entries,
    perExit: means(closed),
    byReason,
    hvcRoundTrip: median(closed.filter((x) => x.reason.category === 'hvc').map((x) => x.hostInsns + 1)),
    loads: loads.length,
    puts: puts.length,
    perLoad: medians(loads),
    perPut: medians(puts),
    sysregsPerExit: [...regs]
      .map(([r, n]) => [r, closed.length ? n / closed.length : 0] as const)
      .sort((a, b) => b[1] - a[1]),
    hazards: w.hazards.length,
  };
}
