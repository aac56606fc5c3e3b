// `hypstep demo`'s reading of its table: every figure is computed from the rows of the same run,
// and the exits-per-put parameter moves the VHE verdict across the break-even ratio it prints.
import { describe, expect, it } from 'vitest';
import { deferral, demoReading, runDemo } from '../../src/world/demo.js';

describe('demo: eager against deferred', () => {
  const modes = ['vhe-eager', 'vhe-deferred'];
  it('at the fixture default deferral pays; at one exit per put it does not, with the same break-even', () => {
    const dflt = runDemo({ modes });
    const tight = runDemo({ modes, sliceExits: 1 });
    const a = deferral(dflt[0]!, dflt[1]!)!;
    const b = deferral(tight[0]!, tight[1]!)!;
    expect(a.exitsPerPut).toBeGreaterThan(a.breakEven);
    expect(b.exitsPerPut).toBe(1); // a put after every exit
    expect(b.exitsPerPut).toBeLessThan(b.breakEven);
    // The saving per exit and the pair cost do not depend on the ratio: the two runs agree on them.
    expect(b.pairCost).toBe(a.pairCost);
    expect(Math.abs(b.savedPerExit - a.savedPerExit) / a.savedPerExit).toBeLessThan(0.05);
    // All in, the deferred mode pays its loads and puts inside its exits.
    expect(a.deferredPerExit).toBeGreaterThan(a.deferredWithoutLoadPut);
    expect(b.deferredPerExit).toBeGreaterThan(b.eagerPerExit);
    expect(a.deferredPerExit).toBeLessThan(a.eagerPerExit);
    const text = demoReading(dflt);
    expect(text).toContain(`stops paying below ${a.breakEven.toFixed(1)} exits per put`);
    expect(text).toContain(`this run: ${a.exitsPerPut.toFixed(1)}, so it pays`);
    expect(demoReading(tight)).toContain('so it does not pay');
  }, 120_000);
});
