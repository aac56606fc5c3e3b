// A random campaign against TLB maintenance by page: two PEs at EL1 share tables of 2 MiB
// blocks and 4 KiB pages, global and not, and switch among three ASIDs while they load and
// fetch; every change to a leaf descriptor is followed by a TLBI that covers it (by VA of any
// page of the leaf, for every ASID or each one, by ASID, or all, Inner Shareable or on each PE).
// After each, no PE may hold an entry that disagrees with a walk of the tables as they are
// (staleTlbEntries, src/mmu/debug.ts): a missed invalidation shows up as a stale entry.
import { Machine } from '../../src/board/machine.js';
import type { Cpu } from '../../src/cpu/cpu.js';
import { ArchException } from '../../src/pe/exception.js';
import { staleTlbEntries } from '../../src/mmu/debug.js';
import { AccessType } from '../../src/mmu/mmu.js';
import { tlbiScope, type TlbiOp } from '../../src/mmu/tlbi.js';
import { rng } from '../helpers/xorshift.js';
import { Tables, setReg, setEL, AF, NG } from './tables.js';

const SLOTS = 8; // 2 MiB slots at VA 0, 2 MiB, ...: each a block or a table of PAGES pages
const PAGES = 16;
const ASIDS = [1, 2, 3];

interface Leaf {
  /** Address of its descriptor. */
  desc: number;
  /** VA of the leaf and its size (log2). */
  va: number;
  bits: number;
}

/** Runs `steps` random steps from `seed`; throws naming the step when a PE keeps a stale entry. */
export function tlbiCampaign(seed: number, steps: number): { changes: number; accesses: number } {
  const next = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[next() % xs.length]!;
  const m = new Machine({ memory: 64 * 1024 * 1024, smp: 2, uartOut: () => {} });
  const t = new Tables(m, 12, 39, 1, 0x4100_0000);
  const leaves: Leaf[] = [];
  // A block's output is one of four 2 MiB-aligned PAs; a page's one of 256 pages after them.
  const blockPa = () => 0x4200_0000 + (next() % 4) * 0x20_0000;
  const pagePa = () => 0x4280_0000 + (next() % 256) * 0x1000;
  const attrs = () => AF | (next() % 2 === 0 ? NG : 0n);
  for (let s = 0; s < SLOTS; s++) {
    if (next() % 2 === 0)
      leaves.push({ desc: t.map(s * 0x20_0000, blockPa(), 2, attrs()), va: s * 0x20_0000, bits: 21 });
    else
      for (let p = 0; p < PAGES; p++) {
        const va = s * 0x20_0000 + p * 0x1000;
        leaves.push({ desc: t.map(va, pagePa(), 3, attrs()), va, bits: 12 });
      }
  }
  const setAsid = (pe: Cpu, asid: number) => setReg(pe, 'TTBR0_EL1', BigInt(t.root) | (BigInt(asid) << 48n));
  for (const pe of m.pes) {
    setReg(pe, 'HCR_EL2', 1n << 31n); // RW
    setReg(pe, 'MAIR_EL1', 0xffn);
    setReg(pe, 'TCR_EL1', 25n | (1n << 23n) | (5n << 32n) | (1n << 36n)); // 16-bit ASIDs, EPD1
    setReg(pe, 'SCTLR_EL1', 1n);
    setAsid(pe, 1);
    setEL(pe, 1);
  }
  const asidOf = new Map(m.pes.map((pe) => [pe, 1]));
  const tlbi = (from: Cpu, op: TlbiOp, xt: bigint, everyPe: boolean) => {
    const scope = tlbiScope(from, op, xt);
    for (const pe of everyPe ? m.pes : [from]) pe.mmu.invalidate(scope);
  };
  let changes = 0;
  let accesses = 0;
  for (let step = 0; step < steps; step++) {
    const pe = pick(m.pes);
    const r = next() % 10;
    if (r < 6) {
      const l = pick(leaves);
      const va = l.va + (l.bits === 21 ? (next() % 512) * 0x1000 : 0) + (next() % 512) * 8;
      try {
        pe.mmu.translate(BigInt(va), next() % 4 === 0 ? AccessType.Fetch : AccessType.Read, 0, false);
        accesses++;
      } catch (e) {
        if (!(e instanceof ArchException)) throw e;
      }
      continue;
    }
    if (r < 7) {
      const asid = pick(ASIDS);
      setAsid(pe, asid);
      asidOf.set(pe, asid);
      continue;
    }
    // Change a leaf (re-point it, flip nG, or unmap it), then a TLBI that covers what may be cached.
    const l = pick(leaves);
    const old = t.read(l.desc);
    const c = next() % 4;
    const desc =
      c === 0
        ? 0n
        : c === 1
          ? old ^ NG
          : BigInt(l.bits === 21 ? blockPa() : pagePa()) | attrs() | (l.bits === 21 ? 1n : 3n);
    t.write(l.desc, desc);
    changes++;
    const page = BigInt(Math.floor((l.va + (next() % 2 ** (l.bits - 12)) * 0x1000) / 0x1000));
    const everyPe = next() % 3 !== 0;
    const issuers = everyPe ? [pe] : m.pes;
    const nG = (old & NG) !== 0n;
    for (const from of issuers) {
      switch (next() % (nG ? 5 : 4)) {
        case 0:
          tlbi(from, 'VMALLE1', 0n, everyPe);
          break;
        case 1:
          tlbi(from, next() % 2 === 0 ? 'VAAE1' : 'VAALE1', page, everyPe);
          break;
        case 2:
          // By VA for each ASID (a global entry goes with any of them: 9 was never used).
          for (const a of nG ? ASIDS : [pick([...ASIDS, 9])])
            tlbi(from, next() % 2 === 0 ? 'VAE1' : 'VALE1', (BigInt(a) << 48n) | page, everyPe);
          break;
        case 3:
          tlbi(from, 'VAE1', page, everyPe); // ASID 0: never current, so only global entries match...
          if (nG) for (const a of ASIDS) tlbi(from, 'VAE1', (BigInt(a) << 48n) | page, everyPe); // ...and these the rest
          break;
        default:
          for (const a of ASIDS) tlbi(from, 'ASIDE1', BigInt(a) << 48n, everyPe); // nG entries only
      }
    }
    for (const p of m.pes) {
      for (const a of ASIDS) {
        setAsid(p, a);
        const stale = staleTlbEntries(p);
        if (stale.length > 0)
          throw new Error(
            `seed ${seed}, step ${step}: PE${p.index} ASID ${a} keeps ${stale.length} stale entries after a covered change ` +
              `of the leaf at VA 0x${l.va.toString(16)} (${old.toString(16)} -> ${desc.toString(16)}): ` +
              `first at VA 0x${stale[0]!.entry.va.toString(16)}`,
          );
      }
      setAsid(p, asidOf.get(p)!);
    }
  }
  return { changes, accesses };
}
