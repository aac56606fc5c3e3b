// The software TLB's storage: direct-mapped, split like a CPU's into a data half and an
// instruction-fetch half (so that a loop's code page and the data it walks never evict each
// other), each of TLB_SIZE entries indexed by VA bits [23:12] XOR a salt of the translation
// context (so that a guest and its host don't evict each other either). An entry holds the VA
// page as two int32 tags (VA[31:12], VA[63:32]), the id of its translation context (./mmu.ts;
// 0 = empty), the PA of the page (a number: PAs are 48 bits), the permissions of every
// privilege (walk.ts PERM mask) and the size of the stage-1 leaf it came from.
//
// A hit does four integer compares and no BigInt arithmetic (`tlbIndex`, `Mmu.hit`); the
// arrays are public so that compiled code may inline the same test.
//
// Invalidation by VA costs what it removes: the entries that can hold a page are found by
// recomputing their index under each salt they can have been filled under, and a block's
// other pages only when an entry of that block was filled in the context (a block wider than
// the TLB's reach costs one pass over the index space per salt).
import type { AccessType } from './walk.js';

export const TLB_BITS = 12;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;
/** Both halves: data entries at [0, TLB_SIZE), instruction-fetch entries above. */
export const TLB_ENTRIES = 2 * TLB_SIZE;

/**
 * The entry that can hold the page of VA[31:0] = `lo` for an access of `type` in a context
 * of salt `salt` (AccessType.Fetch (2) >> 1 selects the instruction half).
 */
export function tlbIndex(lo: number, salt: number, type: AccessType): number {
  return (((lo >>> 12) ^ salt) & TLB_MASK) | ((type >>> 1) << TLB_BITS);
}

/** The salt of a translation context, from its key (FNV-1a): the same context always indexes alike. */
export function tlbSalt(key: string): number {
  let h = 0x811c_9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x0100_0193);
  return h >>> (32 - TLB_BITS);
}

/** What a context remembers of the leaves larger than 4 KiB it filled, for TLBI by VA. */
export class BlockLeaves {
  /** Bit (log2 size - 12) for every leaf size above 4 KiB filled in the context. */
  sizes = 0;
  /**
   * The blocks filled, as (VA[55:12] >> (bits - 12)) * 32 + (bits - 12); null once more than
   * MAX_BLOCKS were seen, after which every block of a size in `sizes` may be present.
   */
  private blocks: Set<number> | null = new Set();
  private static readonly MAX_BLOCKS = 4096;

  add(page: number, bits: number): void {
    const s = bits - 12;
    this.sizes |= 1 << s;
    if (this.blocks === null) return;
    this.blocks.add(Math.floor(page / 2 ** s) * 32 + s);
    if (this.blocks.size > BlockLeaves.MAX_BLOCKS) this.blocks = null;
  }

  /** May a leaf of 2^bits bytes holding `page` (VA[55:12]) have been filled? */
  has(page: number, bits: number): boolean {
    const s = bits - 12;
    return this.blocks === null || this.blocks.has(Math.floor(page / 2 ** s) * 32 + s);
  }
}

export class TlbArrays {
  readonly tagLo = new Int32Array(TLB_ENTRIES);
  readonly tagHi = new Int32Array(TLB_ENTRIES);
  readonly ctxOf = new Int32Array(TLB_ENTRIES);
  readonly pageBase = new Float64Array(TLB_ENTRIES);
  readonly perms = new Uint16Array(TLB_ENTRIES);
  /** log2 of the stage-1 leaf an entry came from: a TLBI by VA covers the whole block. */
  readonly leafBits = new Uint8Array(TLB_ENTRIES);
  /** Entries a TLBI by VA has examined (for the tests: the cost of maintenance). */
  probes = 0;

  fill(idx: number, ctx: number, lo: number, hi: number, pa: number, perms: number, leafBits: number): void {
    this.ctxOf[idx] = ctx;
    this.tagLo[idx] = lo & ~0xfff;
    this.tagHi[idx] = hi;
    this.pageBase[idx] = pa - (lo & 0xfff);
    this.perms[idx] = perms;
    this.leafBits[idx] = leafBits;
  }

  clear(): void {
    this.ctxOf.fill(0);
  }

  /**
   * Drops the entries of the contexts `ids` (filled under `salt`) whose leaf holds the page
   * VA[55:12] = `page`; `blocks` says which larger leaves the contexts filled.
   */
  invalidatePage(page: number, salt: number, ids: ReadonlySet<number>, blocks: readonly BlockLeaves[]): void {
    const vaHi = Math.floor(page / 2 ** 20) & 0xff_ffff; // VA[55:32]
    const pageLo = page % 2 ** 20; // VA[31:12] >> 12
    this.dropAt(pageLo, salt, ids, vaHi, pageLo);
    let sizes = 0;
    for (const b of blocks) sizes |= b.sizes;
    for (let s = 1; sizes >>> s !== 0; s++) {
      if (((sizes >>> s) & 1) === 0 || !blocks.some((b) => ((b.sizes >>> s) & 1) !== 0 && b.has(page, s + 12)))
        continue;
      // The block's pages, up to one index space's worth (they wrap around it beyond that).
      const first = pageLo - (pageLo % 2 ** s);
      const n = Math.min(2 ** s, TLB_SIZE);
      for (let i = 0; i < n; i++)
        if (((first + i) & TLB_MASK) !== (pageLo & TLB_MASK)) this.dropAt(first + i, salt, ids, vaHi, pageLo);
    }
  }

  /** Drops, in both halves at the index of page `p`, an entry of `ids` whose leaf holds the page. */
  private dropAt(p: number, salt: number, ids: ReadonlySet<number>, vaHi: number, pageLo: number): void {
    for (let idx = (p ^ salt) & TLB_MASK; idx < TLB_ENTRIES; idx += TLB_SIZE) {
      this.probes++;
      if (!ids.has(this.ctxOf[idx]!) || (this.tagHi[idx]! & 0xff_ffff) !== vaHi) continue;
      const s = this.leafBits[idx]! - 12;
      if (Math.floor((this.tagLo[idx]! >>> 12) / 2 ** s) === Math.floor(pageLo / 2 ** s)) this.ctxOf[idx] = 0;
    }
  }
}
