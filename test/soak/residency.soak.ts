// The residency checker across minihyp's time slices: every correct mode, at every slice from
// one exit per put to 48, ends in PASS with no hazard and with its loads and puts balanced, and
// each bug mode is still caught. A false positive that only some schedule provokes shows here.
import { runMode, guestResult, minihypModes } from '../../src/world/demo.js';
import type { SoakBudget } from './run.js';

export function soak(budget: SoakBudget): Promise<void> {
  const slices = [1, 2, 3, 5, 8, 13, 24, 48].slice(0, Math.max(2, Math.round(8 * budget.scale)));
  for (const slice of slices) {
    for (const mode of minihypModes()) {
      const r = runMode(mode, { check: true, sliceExits: slice });
      const bug = mode.startsWith('bug-');
      const result = guestResult(r.uart);
      const found = r.world.recent.hazards.total;
      if (r.stop !== 'exit' || result !== (bug ? 'FAIL' : 'PASS') || found > 0 !== bug)
        throw new Error(`${mode} with a slice of ${slice} exits: ${r.stop}, guest ${result}, ${found} hazards`);
      if (!bug && r.world.sums.load.count !== r.world.sums.put.count)
        throw new Error(
          `${mode} with a slice of ${slice} exits: ${r.world.sums.load.count} loads, ${r.world.sums.put.count} puts`,
        );
    }
    console.log(`  slice ${slice}: every mode as built`);
  }
  return Promise.resolve();
}
