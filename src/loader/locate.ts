// Code locations for messages: `read_tpidr+4 (tinyvhe.S:121)` from an image's symbols and
// DWARF line table, the bare address when it has neither. One formatter for the hazard
// checker, `--trace world` and `--report`.
import { hex } from '../cpu/bits.js';
import type { ElfSymbol, Image } from './elf.js';
import { LineIndex, readLineTable } from './dwarf-line.js';

export type Locate = (pc: bigint) => string;

/** Symbols that name code: not data objects, not the `$x`/`$d` mapping symbols. */
function codeSymbols(symbols: readonly ElfSymbol[]): ElfSymbol[] {
  return symbols
    .filter((s) => s.type !== 'object' && !s.name.startsWith('$') && s.name !== '')
    .sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : a.type === 'func' ? -1 : 1));
}

/** A location formatter for `image` (or for none: bare addresses). The line table is read on first use. */
export function locator(image: Image | null | undefined): Locate {
  const syms = image ? codeSymbols(image.symbols) : [];
  let lines: LineIndex | null | undefined;
  const lineOf = (pc: bigint): string | null => {
    if (lines === undefined) lines = image?.debug ? new LineIndex(readLineTable(image.debug)) : null;
    return lines?.lookup(pc) ?? null;
  };
  const symbolOf = (pc: bigint): string | null => {
    let lo = 0,
      hi = syms.length - 1,
      at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (syms[mid]!.value <= pc) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (at < 0) return null;
    // The first symbol at that address (a function's name before a label that shares it).
    while (at > 0 && syms[at - 1]!.value === syms[at]!.value) at--;
    const s = syms[at]!;
    if (s.size > 0 && pc >= s.value + BigInt(s.size)) return null;
    const off = pc - s.value;
    return off === 0n ? s.name : `${s.name}+${off}`;
  };
  return (pc) => {
    const sym = symbolOf(pc);
    const line = lineOf(pc);
    if (sym === null && line === null) return hex(pc);
    if (sym === null) return `${hex(pc)} (${line})`;
    return line === null ? sym : `${sym} (${line})`;
  };
}
