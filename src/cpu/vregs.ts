// The SIMD&FP register file: V0–V31, 128 bits each, in one little-endian buffer seen through
// a typed array per element size, so V[n] is bytes 16n..16n+15 and an element of any size is
// one indexed load (the host is little-endian, as every Node.js platform is).

export class VRegs {
  readonly buf = new ArrayBuffer(32 * 16);
  readonly b = new Uint8Array(this.buf);
  readonly h = new Uint16Array(this.buf);
  readonly s = new Uint32Array(this.buf);
  readonly d = new BigUint64Array(this.buf);
  readonly f32 = new Float32Array(this.buf);
  readonly f64 = new Float64Array(this.buf);

  reset(): void {
    this.b.fill(0);
  }

  /** V[n] as a 128-bit value. */
  q(n: number): bigint {
    return (this.d[2 * n + 1]! << 64n) | this.d[2 * n]!;
  }

  setQ(n: number, v: bigint): void {
    this.d[2 * n] = BigInt.asUintN(64, v);
    this.d[2 * n + 1] = BigInt.asUintN(64, v >> 64n);
  }
}
