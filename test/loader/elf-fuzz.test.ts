// A short, fixed sample of the ELF fuzzer (elf-fuzz.ts; `npm run soak` runs the long campaign):
// damaged fixture images through `hypstep run`, each refused with one `hypstep:` line and exit
// status 2 or run to an end, never a stack trace or a hang.
import { describe, it, expect } from 'vitest';
import { campaign, summary } from './elf-fuzz.js';

describe('the ELF fuzzer, a CI sample', () => {
  it('60 damaged images: each refused in one line or run, none crashes or hangs', async () => {
    const c = await campaign(0x0e1f_5eed, 60);
    expect(c.failures).toEqual([]);
    expect(c.cases).toBe(60);
    // The sample exercises both outcomes.
    expect(c.outcomes.get('refused') ?? 0, summary(c)).toBeGreaterThan(10);
    expect(60 - (c.outcomes.get('refused') ?? 0), summary(c)).toBeGreaterThan(5);
  }, 600_000);
});
