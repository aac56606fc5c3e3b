// FEAT_CRC32, in the data-processing (2 source) group: CRC32B/H/W/X (polynomial 0x04C11DB7) and
// CRC32CB/CH/CW/CX (0x1EDC6F41, Castagnoli) fold 8, 16, 32 or 64 bits of X[m] into the 32-bit
// accumulator W[n], with neither pre- nor post-inversion.
//
// The ARM ARM's CRC32 is BitReverse(Poly32Mod2(BitReverse(acc):Zeros(size) EOR BitReverse(val):Zeros(32),
// poly)). Bit-reversed, that is the reflected CRC that processes the value's bytes from the least
// significant up, one table lookup per byte; the two tables are built from Poly32Mod2 itself.
import type { AnyEncoding } from '../decode.js';
import { enc } from '../decode.js';
import { X, setX } from '../regs.js';
import type { Cpu } from '../cpu.js';
import type { Emitter } from '../emit.js';
import { rz, unallocated } from './dp-common.js';

/** BitReverse(x) of an n-bit value. */
function bitReverse(x: number, n: number): number {
  let r = 0;
  for (let i = 0; i < n; i++) r = (r << 1) | ((x >>> i) & 1);
  return r >>> 0;
}

/** Poly32Mod2(data, poly): the remainder of the `bits`-bit polynomial `data` modulo x^32 + poly, over GF(2). */
function poly32Mod2(data: bigint, bits: number, poly: bigint): number {
  for (let i = bits - 1; i >= 32; i--) {
    if (((data >> BigInt(i)) & 1n) !== 0n) data ^= ((1n << 32n) | poly) << BigInt(i - 32);
  }
  return Number(data);
}

/** The bit-reversed CRC of each byte value: BitReverse(Poly32Mod2(BitReverse(b):Zeros(32), poly)). */
function byteTable(poly: bigint): Uint32Array {
  return Uint32Array.from({ length: 256 }, (_, b) =>
    bitReverse(poly32Mod2(BigInt(bitReverse(b, 8)) << 32n, 40, poly), 32),
  );
}

/** The CRC-32 and CRC-32C tables, made when a CRC instruction first runs (not on every start-up). */
let tables: readonly Uint32Array[] | null = null;

/** CRC32(acc, val) over the low `bytes` bytes of `val`. */
export function crc32(acc: number, val: bigint, bytes: number, table: Uint32Array): number {
  let crc = acc >>> 0;
  let lo = Number(BigInt.asUintN(32, val)) >>> 0;
  for (let i = 0; i < bytes; i++) {
    if (i === 4) lo = Number(val >> 32n) >>> 0;
    crc = (crc >>> 8) ^ table[(crc ^ (lo >>> (8 * (i & 3)))) & 0xff]!;
  }
  return crc >>> 0;
}

/** The CRC32 or CRC32C (c = 1) of X[n]'s low word and the low 2^sz bytes of X[m], as X[d]'s value. */
function crcRegisters(xn: bigint, xm: bigint, sz: number, c: number): bigint {
  return BigInt(
    crc32(
      Number(BigInt.asUintN(32, xn)),
      xm,
      1 << sz,
      (tables ??= [byteTable(0x04c1_1db7n), byteTable(0x1edc_6f41n)])[c]!,
    ),
  );
}

function exec(cpu: Cpu, d: { Rd: number; Rn: number; Rm: number; C: number }, sz: number): void {
  setX(cpu, d.Rd, crcRegisters(X(cpu, d.Rn), X(cpu, d.Rm), sz, d.C));
}

function gen(g: Emitter, d: { Rd: number; Rn: number; Rm: number; C: number }, sz: number): void {
  g.setX(d.Rd, `${g.ref(crcRegisters)}(${g.x(d.Rn)}, ${g.x(d.Rm)}, ${sz}, ${d.C})`);
}

function text(d: { Rd: number; Rn: number; Rm: number; C: number }, sz: number): string {
  return `crc32${d.C ? 'c' : ''}${'bhwx'[sz]} ${rz(d.Rd, 0)}, ${rz(d.Rn, 0)}, ${rz(d.Rm, sz === 3)}`;
}

export const CRC32: readonly AnyEncoding[] = [
  // sf must say whether the value is 64-bit (sz = 11).
  unallocated('0 0 0 11010110 xxxxx 010 x 11 xxxxx xxxxx', 'CRC32X/CRC32CX with sf=0'),
  enc(
    '0 0 0 11010110 Rm:5 010 C:1 sz:2 Rn:5 Rd:5',
    'CRC32/CRC32C (B, H, W)',
    (cpu, d) => exec(cpu, d, d.sz),
    (d) => text(d, d.sz),
    (g, d) => gen(g, d, d.sz),
  ),
  enc(
    '1 0 0 11010110 Rm:5 010 C:1 11 Rn:5 Rd:5',
    'CRC32X/CRC32CX',
    (cpu, d) => exec(cpu, d, 3),
    (d) => text(d, 3),
    (g, d) => gen(g, d, 3),
  ),
];
