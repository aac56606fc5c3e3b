// The ELF loader meets damaged files: every one either loads or is refused with a LoadError
// (one line for the user), never another exception.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseElf, LoadError } from '../../src/loader/elf.js';
import { rng } from '../helpers/xorshift.js';

const HELLO = readFileSync(new URL('../../fixtures/hello/build/hello.elf', import.meta.url));
const MINIHYP = readFileSync(new URL('../../fixtures/minihyp/build/minihyp-vhe-deferred.elf', import.meta.url));

function outcome(buf: Uint8Array): 'loaded' | 'refused' {
  try {
    parseElf(buf, 'fuzz.elf');
    return 'loaded';
  } catch (e) {
    if (e instanceof LoadError) return 'refused';
    throw new Error(`parseElf threw ${String(e)} instead of a LoadError`, { cause: e });
  }
}

describe('parseElf', () => {
  it('reads the entry point, segments and symbols of a real image', () => {
    const img = parseElf(MINIHYP);
    expect(img.entry).toBeGreaterThanOrEqual(0x4000_0000n);
    expect(img.segments.length).toBeGreaterThan(0);
    expect(img.symbols.some((s) => s.name === 'vcpu_load' && s.type === 'func')).toBe(true);
  });

  it('refuses every truncation of a valid image with a LoadError, or loads it', () => {
    for (const src of [HELLO, MINIHYP]) {
      const step = Math.max(1, Math.floor(src.length / 400));
      for (let n = 0; n < src.length; n += step) outcome(src.subarray(0, n));
    }
  });

  it('survives thousands of corrupted headers and section tables', () => {
    const next = rng(0x5eed);
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const src = i % 2 ? HELLO : MINIHYP;
      const buf = Uint8Array.from(src);
      const shoff = Number(new DataView(src.buffer, src.byteOffset).getBigUint64(40, true));
      for (let k = 0; k < 1 + (next() % 6); k++) {
        // Damage the ELF header, the program headers or the section headers, where offsets live.
        const region = next() % 3;
        const at =
          region === 0 ? next() % 64 : region === 1 ? 64 + (next() % 256) : shoff + (next() % (src.length - shoff));
        buf[at % buf.length] = next() & 0xff;
      }
      if (outcome(buf) === 'refused') refused++;
    }
    expect(refused).toBeGreaterThan(100);
  });
});
