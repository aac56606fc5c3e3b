// xorshift32: the small fixed sequence the unit tests draw their cases and damage from.

/** The next 32-bit value of the sequence started by `seed` (a zero seed starts at 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}
