// The micro-benchmark behind the TLB hit path in src/mmu/mmu.ts: how to turn a 64-bit
// VA (a BigInt computed with BigInt.asUintN, as the load/store code produces it) into
// the index and tags of a direct-mapped TLB. Run: node test/mmu/tlb-lookup-bench.mjs
// Node 20 here: 'split' (store into a BigUint64Array, read two int32) 30-110 M lookups/s;
// 'number' (Number(BigInt.asUintN(32, va)), Number(va >> 32n)) 7-20 M/s; 'bigtag'
// (BigUint64Array tag compare) slower still. Ranges: the same runs on a busy and an idle machine.
const N = 4096,
  MASK = N - 1;
const tagLo = new Int32Array(N),
  tagHi = new Int32Array(N),
  pa = new Float64Array(N);
const tag64 = new BigUint64Array(N);
const base = 0xffff_0000_4000_0000n;
for (let i = 0; i < N; i++) {
  const va = base + BigInt(i) * 4096n;
  tagLo[i] = Number(BigInt.asUintN(32, va)) & ~0xfff;
  tagHi[i] = Number(BigInt.asIntN(32, va >> 32n));
  tag64[i] = va;
  pa[i] = 0x4000_0000 + i * 4096;
}
const split64 = new BigUint64Array(1),
  split32 = new Int32Array(split64.buffer);
const ways = {
  number(va) {
    const lo = Number(BigInt.asUintN(32, va)) | 0,
      hi = Number(BigInt.asIntN(32, va >> 32n));
    const i = (lo >>> 12) & MASK;
    return tagLo[i] === (lo & ~0xfff) && tagHi[i] === hi ? pa[i] + (lo & 0xfff) : -1;
  },
  split(va) {
    split64[0] = va;
    const lo = split32[0],
      hi = split32[1];
    const i = (lo >>> 12) & MASK;
    return tagLo[i] === (lo & ~0xfff) && tagHi[i] === hi ? pa[i] + (lo & 0xfff) : -1;
  },
  bigtag(va) {
    split64[0] = va;
    const lo = split32[0];
    const i = (lo >>> 12) & MASK;
    return tag64[i] === (va & ~0xfffn) ? pa[i] + (lo & 0xfff) : -1;
  },
};
const regs = new BigUint64Array(2);
regs[1] = base;
for (const name of [...Object.keys(ways), ...Object.keys(ways)]) {
  const f = ways[name];
  let s = 0;
  const R = 10_000_000;
  const t0 = performance.now();
  for (let r = 0; r < R; r++) s += f(BigInt.asUintN(64, regs[1] + BigInt((r * 7919) & (N * 4096 - 8))));
  const dt = performance.now() - t0;
  console.log(`${name.padEnd(7)} ${(R / dt / 1000).toFixed(1)} M lookups/s (checksum ${s})`);
}
