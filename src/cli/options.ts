// Option parsing helpers: each turns a user's string into a value or one clear error line.

export class UsageError extends Error {}

/** QEMU-style sizes: a number of MiB, or with a K/M/G suffix. */
export function parseSize(s: string): number {
  const m = /^(\d+)([kKmMgG]?)[bB]?$/.exec(s.trim());
  if (!m) throw new UsageError(`invalid memory size '${s}' (expected e.g. 512M or 1G)`);
  const unit = { '': 2 ** 20, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  const bytes = Number(m[1]) * unit;
  if (bytes < 2 ** 20 || bytes > 3 * 2 ** 30) throw new UsageError(`memory size '${s}' out of range (1M to 3G)`);
  return bytes;
}

export function parseCount(s: string, what: string): number {
  if (!/^\d+$/.test(s.trim()) || Number(s) <= 0 || !Number.isSafeInteger(Number(s))) {
    throw new UsageError(`invalid ${what} '${s}' (expected a positive whole number)`);
  }
  return Number(s);
}

export function parseAddress(s: string, what: string): bigint {
  try {
    if (s.trim() === '') throw new Error(); // BigInt('') would be 0
    const v = BigInt(s.trim());
    if (v < 0n || v >= 1n << 64n) throw new Error();
    return v;
  } catch {
    throw new UsageError(`invalid ${what} '${s}' (expected a number such as 0x40000000)`);
  }
}
