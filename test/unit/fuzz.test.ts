// Random instruction words, executed: whatever a guest runs, hypstep answers with an
// architected exception or a named stop, never a JavaScript exception.
import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/board/machine.js';
import { Wait } from '../../src/cpu/cpu.js';
import { SR } from '../../src/sysregs/registry.js';
import { parseElf } from '../../src/loader/elf.js';
import { readFileSync } from 'node:fs';
import { rng } from '../helpers/xorshift.js';

/** Real instruction words (minihyp's code), so that mutations land near allocated encodings. */
const REAL = (() => {
  const img = parseElf(readFileSync(new URL('../../fixtures/minihyp/build/minihyp-vhe-deferred.elf', import.meta.url)));
  const seg = img.segments[0]!.data;
  return new Uint32Array(seg.buffer.slice(seg.byteOffset, seg.byteOffset + (seg.length & ~3)));
})();

const BASE = 0x4000_0000;
const SPAN = 1 << 20;

describe('random instruction words', () => {
  it('run without a JavaScript exception escaping the machine', () => {
    const stops = new Map<string, number>();
    let executed = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const next = rng(seed * 0x9e37_79b9);
      const m = new Machine({ memory: 16 << 20, uartOut: () => {}, consoleOut: () => {} });
      const words = new Uint32Array(SPAN / 4);
      // Half the seeds: random words; the other half: real words with one to three bits flipped.
      for (let i = 0; i < words.length; i++) {
        if (seed % 2) {
          words[i] = next();
          continue;
        }
        let w = REAL[next() % REAL.length]!;
        for (let k = next() % 3; k >= 0; k--) w ^= 1 << (next() % 32);
        words[i] = w >>> 0;
      }
      m.bus.poke(BASE, new Uint8Array(words.buffer));
      const cpu = m.cpu;
      // Vectors and stacks inside the random code, so exceptions keep executing random words.
      cpu.sr[SR.VBAR_EL2!] = BigInt(BASE + (next() % (SPAN / 2048)) * 2048);
      cpu.sr[SR.VBAR_EL1!] = BigInt(BASE + (next() % (SPAN / 2048)) * 2048);
      for (let el = 0; el < 3; el++) cpu.spEl[el] = BigInt(BASE + SPAN + 0x10000 * (el + 1));
      for (let round = 0; round < 40; round++) {
        cpu.pcs[0] = BigInt(BASE + (next() % (SPAN / 4)) * 4);
        cpu.waiting = Wait.None; // a WFI of the previous round put the PE to sleep
        const before = cpu.icount;
        let r;
        try {
          r = m.run(5_000);
        } catch (e) {
          throw new Error(`seed ${seed} round ${round}: ${String(e)} at PC 0x${cpu.pcs[1]!.toString(16)}`, {
            cause: e,
          });
        }
        executed += cpu.icount - before;
        const key = r.kind === 'unimplemented' ? `unimplemented: ${r.message.replace(/0x[0-9a-f]+/g, '…')}` : r.kind;
        stops.set(key, (stops.get(key) ?? 0) + 1);
      }
    }
    expect(executed).toBeGreaterThan(1_000_000);
    for (const k of stops.keys())
      expect(k).toMatch(/^(budget|exit|requested|idle|stuck|unimplemented: .*(AArch32|not implemented))/);
  });
});
