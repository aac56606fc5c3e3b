import { describe, it, expect } from 'vitest';
import { runSnippet } from '../helpers/asm.js';

describe('smoke', () => {
  it('runs to the end of a snippet at EL2', () => {
    const r = runSnippet('mrs x0, CurrentEL');
    expect(r.stop).toBe('end');
    expect(r.machine.cpu.x[0]).toBe(8n);
  });
});
