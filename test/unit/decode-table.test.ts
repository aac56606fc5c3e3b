// The decoder's rules (src/cpu/decode.ts): signed and compound fields extract what the
// assembler encoded, overlaps are explicit, and the order of the table's rows decides nothing.
import { describe, it, expect } from 'vitest';
import { A64 } from '../../src/cpu/a64.js';
import { Decoder, enc, precedence, refining, type AnyEncoding } from '../../src/cpu/decode.js';
import { unallocated } from '../../src/cpu/insn/dp-common.js';
import { encode } from '../helpers/asm.js';
import { rng } from '../helpers/xorshift.js';

const nop = (): void => {};

describe('decode table', () => {
  it('signed and compound fields: ADR and B.cond offsets as the assembler encodes them', () => {
    const adr = enc('0 immlo:2 10000 immhi:19 Rd:5 imm=s(immhi:immlo) uimm=immhi:immlo', 'ADR', nop);
    const bcond = enc('0101010 0 imm19:s19 0 cond:4', 'B.cond', nop);
    const words = encode(['adr x3, . - 4', 'adr x3, . + 0xffffd', 'b.ne . - 8', 'b.eq . + 0x40']);
    const a0 = adr.extract(words[0]!);
    expect([a0.imm, a0.Rd, a0.uimm]).toEqual([-4, 3, 0x1ffffc]);
    expect(adr.extract(words[1]!).imm).toBe(0xffffd);
    expect([bcond.extract(words[2]!).imm19, bcond.extract(words[2]!).cond]).toEqual([-2, 1]);
    expect(bcond.extract(words[3]!).imm19).toBe(16);
  });

  it('refuses rows that overlap without one refining the other, and accepts refinements and carve-outs', () => {
    const broad = enc('xxxxxxxx xxxxxxxx xxxxxxxx xxxx a:3 0', 'broad', nop);
    const narrow = enc('xxxxxxxx xxxxxxxx xxxxxxxx xxxx 0000', 'narrow', nop);
    const crossing = enc('1xxxxxxx xxxxxxxx xxxxxxxx xxxx b:4', 'crossing', nop);
    expect(() => precedence([broad, narrow])).toThrow(/'broad' and 'narrow' overlap/);
    expect(() => precedence([broad, crossing])).toThrow(/overlap/);
    expect(() => precedence([refining(crossing, 'broad'), broad])).toThrow(/overlap/);
    expect(() => precedence([refining(narrow, 'missing')])).toThrow(/refines no row 'missing'/);
    const ok: AnyEncoding[] = [broad, refining(narrow, 'broad'), unallocated('0'.repeat(32), 'zero')];
    for (const order of [ok, [...ok].reverse()]) {
      const d = new Decoder(order);
      expect(d.find(0x10)!.name).toBe('narrow');
      expect(d.find(0x12)!.name).toBe('broad');
      expect(d.find(0x11)).toBeUndefined();
      expect(d.find(0)!.name).toBe('UNALLOCATED (zero)');
    }
  });

  it('the A64 table passes the overlap check, and any order of its rows decodes every word alike', () => {
    const reference = new Decoder(A64);
    const r = rng(0x5eed);
    const shuffled = (): AnyEncoding[] => {
      const a = [...A64];
      for (let i = a.length - 1; i > 0; i--) {
        const j = r() % (i + 1);
        [a[i], a[j]] = [a[j]!, a[i]!];
      }
      return a;
    };
    const orders = [new Decoder([...A64].reverse()), new Decoder(shuffled()), new Decoder(shuffled())];
    // Random words, and words near every row's value (its fixed bits with random operands).
    const words: number[] = [];
    for (let i = 0; i < 100_000; i++) words.push(r());
    for (const e of A64) for (let i = 0; i < 64; i++) words.push(((r() & ~e.mask) | e.value) >>> 0);
    // Overlapping carve-outs differ in name only: each is UNDEFINED.
    const what = (e: AnyEncoding | undefined): string | undefined => (e?.carveOut === true ? 'UNDEFINED' : e?.name);
    for (const w of words) {
      const want = what(reference.find(w));
      for (const d of orders)
        if (what(d.find(w)) !== want) expect([w.toString(16), what(d.find(w))]).toEqual(['', want]);
    }
  });
});
