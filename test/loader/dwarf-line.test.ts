// The DWARF line-table reader and the location formatter against binutils: for every 4th
// instruction of the fixture hypervisors (C and assembly, DWARF 5 from gcc 12 and gas), the
// file:line hypstep prints is the one addr2line prints, and the function is readelf's.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseElf } from '../../src/loader/elf.js';
import { LineIndex, readLineTable } from '../../src/loader/dwarf-line.js';
import { locator } from '../../src/loader/locate.js';
import { requireTool, repoRoot } from '../helpers/tools.js';

const ROOT = repoRoot();
const ELFS = ['fixtures/minihyp/build/minihyp-vhe-deferred.elf', 'fixtures/tinyvhe/build/tinyvhe-kvm.elf'];

describe.each(ELFS)('line table of %s', (rel) => {
  const file = join(ROOT, rel);
  const image = parseElf(readFileSync(file), file);

  it('gives the lines addr2line gives', () => {
    requireTool('aarch64-linux-gnu-addr2line');
    // The code: .text as readelf gives it (for data, addr2line answers with a declaration's line).
    const sh = execFileSync(requireTool('aarch64-linux-gnu-readelf'), ['-SW', file], { encoding: 'utf8' });
    const [, addr, size] = /\.text\s+PROGBITS\s+([0-9a-f]+) [0-9a-f]+ ([0-9a-f]+)/.exec(sh)!;
    const pcs: bigint[] = [];
    for (let off = 0n; off < BigInt('0x' + size!); off += 8n) pcs.push(BigInt('0x' + addr!) + off);
    const out = execFileSync('aarch64-linux-gnu-addr2line', ['-e', file, ...pcs.map((p) => '0x' + p.toString(16))], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    })
      .trim()
      .split('\n');
    const index = new LineIndex(readLineTable(image.debug!));
    let withLines = 0;
    pcs.forEach((pc, i) => {
      const want = /(^\?\?|:\?$)/.test(out[i]!)
        ? null
        : out[i]!.replace(/^.*\//, '').replace(/ \(discriminator \d+\)$/, '');
      expect(index.lookup(pc), `0x${pc.toString(16)}`).toBe(want);
      if (want !== null) withLines++;
    });
    expect(withLines).toBeGreaterThan(pcs.length / 2);
  });

  it('names the function with its offset, as readelf lists them', () => {
    // FUNC symbols of 8 bytes or more, as readelf lists them (a 4-byte function has no +4 of its own).
    const funcs = execFileSync(requireTool('aarch64-linux-gnu-readelf'), ['-sW', file], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[3] === 'FUNC' && Number(f[2]) >= 8)
      .map((f) => [f[1]!, f[7]!] as const);
    // (tinyvhe's assembly labels are NOTYPE: the tinyvhe tests check its names through the hazards.)
    expect(funcs.length > 5 || rel.includes('tinyvhe')).toBe(true);
    const loc = locator(image);
    for (const [addr, name] of funcs) {
      const pc = BigInt('0x' + addr) + 4n;
      expect(loc(pc)).toMatch(new RegExp(`^\\S+\\+4( \\(\\S+:\\d+\\))?$`));
      const at = loc(BigInt('0x' + addr));
      expect(at.split(' ')[0], name).not.toMatch(/\+/); // a symbol's own address has no offset
    }
  });
});

describe('damaged or missing line tables', () => {
  it('yield what was read, never an exception, and bare addresses without symbols', () => {
    const file = join(ROOT, ELFS[1]!);
    const image = parseElf(readFileSync(file), file);
    const line = image.debug!.line;
    for (const cut of [3, 10, 40, line.length >> 1, line.length - 3]) {
      expect(() => readLineTable({ ...image.debug!, line: line.subarray(0, cut) })).not.toThrow();
    }
    const garbage = Uint8Array.from({ length: 512 }, (_, i) => (i * 37) & 0xff);
    expect(() => readLineTable({ line: garbage })).not.toThrow();
    expect(locator({ ...image, symbols: [], debug: undefined })(0x40080000n)).toBe('0x40080000');
    expect(locator(null)(0x1234n)).toBe('0x1234');
  });
});
