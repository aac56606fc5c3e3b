// Memory views and `monitor translate` over real page tables, built through the debugger
// itself (X packets into RAM, P packets into the translation registers).
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { RspClient } from '../../gdbstub/client.js';
import { startHyp, sessionImage, type Hyp } from './harness.js';

let hyp: Hyp;
let c: RspClient;
beforeEach(async () => {
  hyp = await startHyp();
  c = await RspClient.connect('127.0.0.1', hyp.port);
});
afterEach(async () => {
  c.close();
  await hyp.handle.close();
});

const S1_TABLE = 0x4200_0000n;
const S2_TABLE = 0x4201_0000n;
const le64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return new Uint8Array(b);
};
// 4K granule, level-1 blocks of 1 GiB: AF, inner shareable, AttrIndx 0 (stage 1) / Normal WB RW (stage 2).
const s1Block = (pa: bigint) => pa | 0x701n;
const s2Block = (pa: bigint) => pa | 0x7fdn;

/** EL2 stage 1: VA 0x4000_0000 → PA 0x4000_0000 and the alias VA 0x8000_0000 → PA 0x4000_0000. */
async function el2Stage1(): Promise<void> {
  await c.monitor('memory phys');
  await c.writeMemory(S1_TABLE + 8n, le64(s1Block(0x4000_0000n)));
  await c.writeMemory(S1_TABLE + 16n, le64(s1Block(0x4000_0000n)));
  await c.monitor('memory current');
  await c.writeRegister('mair_el2', 0xffn);
  await c.writeRegister('tcr_el2', (1n << 31n) | (1n << 23n) | (5n << 16n) | 25n); // 39-bit VA, 48-bit PA
  await c.writeRegister('ttbr0_el2', S1_TABLE);
  await c.writeRegister('sctlr_el2', (await c.readRegister('sctlr_el2')) | 1n);
}

/** Stage 2: IPA 0 → PA 0x4000_0000 (1 GiB), VM=1. */
async function stage2(): Promise<void> {
  await c.monitor('memory phys');
  await c.writeMemory(S2_TABLE, le64(s2Block(0x4000_0000n)));
  await c.monitor('memory current');
  await c.writeRegister('vtcr_el2', (1n << 31n) | (5n << 16n) | (1n << 6n) | 25n); // SL0=1: start at level 1
  await c.writeRegister('vttbr_el2', S2_TABLE);
  await c.writeRegister('hcr_el2', (1n << 31n) | 1n);
}

describe('memory views', () => {
  it('reads hypervisor virtual addresses through EL2 stage 1, and physical ones in phys', async () => {
    await el2Stage1();
    const entry = sessionImage().entry;
    const alias = entry - 0x4000_0000n + 0x8000_0000n;
    const real = await c.readMemory(entry, 16);
    expect(await c.readMemory(alias, 16)).toEqual(real);
    expect(await c.request(`m${0xc000_0000n.toString(16)},4`)).toMatch(/^E/); // unmapped: an error, no fault taken
    expect(hyp.machine.cpu.pcs[0]).toBe(entry);
    await c.monitor('memory phys');
    expect(await c.request(`m${alias.toString(16)},4`)).toMatch(/^E/); // no RAM at PA 0x8008_0000
    const out = await c.monitor(`translate ${'0x' + alias.toString(16)} el2`);
    expect(out).toMatch(/EL2 stage 1/);
    expect(out).toMatch(/stage 1 level 1: block\s+0x40000701\s+at PA 0x42000010/);
    expect(out).toMatch(/→ PA 0x40080000/);
    expect(await c.monitor('translate 0xc0000000 el2')).toMatch(/no translation: .*translation fault/i);
  });
  it('reads guest physical addresses through stage 2, and guest virtual ones through both stages', async () => {
    await stage2();
    await c.monitor('memory ipa');
    const entry = sessionImage().entry;
    expect(await c.readMemory(entry - 0x4000_0000n, 8)).toEqual(
      await (async () => {
        await c.monitor('memory phys');
        const b = await c.readMemory(entry, 8);
        await c.monitor('memory ipa');
        return b;
      })(),
    );
    const out = await c.monitor('translate 0x80000 el1');
    expect(out).toMatch(/EL1&0 stage 1 \+ stage 2/);
    expect(out).toMatch(/stage 2 level 1: block/);
    expect(out).toMatch(/IPA 0x80000/);
    expect(out).toMatch(/→ PA 0x40080000/);
    expect(await c.monitor('info el')).toMatch(/VM=1/);
  });
  it('writes through a view land at the translated physical address', async () => {
    await el2Stage1();
    await c.writeMemory(0x8100_0000n, Uint8Array.from([1, 2, 3, 4]));
    await c.monitor('memory phys');
    expect(await c.readMemory(0x4100_0000n, 4)).toEqual(Uint8Array.from([1, 2, 3, 4]));
  });
});
