// The priority arithmetic the physical and the virtual GIC CPU interfaces share: 5 bits of
// priority and of preemption (QEMU's), so an active-priority register has 32 bits, bit n
// standing for group priority n << 3.

/** The INTID an acknowledge returns when nothing can be acknowledged. */
export const SPURIOUS = 1023;
/** The implemented bits of a priority (the low three read as zero). */
export const PRIO_MASK = 0xf8;
/** The smallest binary points: BPR0 2, BPR1 3 (one more, as the architecture requires). */
export const MIN_BPR0 = 2;

/** Index of the lowest set bit of a 32-bit value, 32 for none. */
export function lowestBit(v: number): number {
  return v === 0 ? 32 : 31 - Math.clz32(v & -v);
}

/** The running priority the active-priority registers give: the highest active group priority, 0xff when idle. */
export function runningPriority(apr: readonly number[]): number {
  const a = apr[0]! | apr[1]!;
  return a === 0 ? 0xff : lowestBit(a) << 3;
}

/**
 * GroupBits: the mask keeping a priority's group (preemption) bits for an interrupt of
 * `group`, from BPR0 and BPR1 (with CBPR, Group 1 uses BPR0 too).
 */
export function groupPriorityMask(group: number, bpr0: number, bpr1: number, cbpr: boolean): number {
  const bpr = group === 0 || cbpr ? bpr0 : bpr1 - 1;
  return (~0 << (bpr + 1)) & 0xff;
}

/** Whether an interrupt of `priority` and `group` passes the priority mask and preempts the running priority. */
export function canPreempt(priority: number, mask: number, pmr: number, running: number): boolean {
  if (priority >= pmr) return false;
  return running === 0xff || (priority & mask) < (running & mask);
}

/** Sets the active-priority bit of an interrupt acknowledged at `priority` (its group priority under `mask`). */
export function activate(apr: number[], group: number, priority: number, mask: number): void {
  apr[group] = (apr[group]! | (1 << ((priority & mask) >>> 3))) >>> 0;
}

/**
 * Priority drop: clears the highest active priority (group 0 first on a tie) and returns
 * its group and priority, or null when nothing is active.
 */
export function dropPriority(apr: number[]): { group: number; priority: number } | null {
  const a0 = lowestBit(apr[0]!);
  const a1 = lowestBit(apr[1]!);
  if (a0 === 32 && a1 === 32) return null;
  const group = a0 <= a1 ? 0 : 1;
  apr[group] = (apr[group]! & (apr[group]! - 1)) >>> 0;
  return { group, priority: Math.min(a0, a1) << 3 };
}

/** The group of the highest active priority, -1 when none is active. */
export function highestActiveGroup(apr: readonly number[]): number {
  const a0 = lowestBit(apr[0]!);
  const a1 = lowestBit(apr[1]!);
  if (a0 === 32 && a1 === 32) return -1;
  return a1 < a0 ? 1 : 0;
}
