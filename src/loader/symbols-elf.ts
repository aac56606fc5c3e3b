// An ELF that holds only symbols, for gdb's `add-symbol-file`: the kernel's functions by name
// without its 322 MB debug package. One NOBITS `.text` section spans the text symbols (gdb
// places function symbols in a section), the data symbols are absolute.
import type { KernelSymbol } from './kallsyms.js';

const EM_AARCH64 = 183;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHT_NOBITS = 8;
const SHF_ALLOC = 2;
const SHF_EXECINSTR = 4;
const SHN_ABS = 0xfff1;
const STB_LOCAL = 0;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const STT_NOTYPE = 0;
const STT_OBJECT = 1;
const STT_FUNC = 2;

const isText = (t: string): boolean => 'TtWw'.includes(t);

class Strings {
  private readonly parts: Buffer[] = [Buffer.alloc(1)];
  private size = 1;
  add(s: string): number {
    const at = this.size;
    const b = Buffer.from(s + '\0', 'utf8');
    this.parts.push(b);
    this.size += b.length;
    return at;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** The ELF64 bytes. Function sizes run to the next symbol's address, so gdb can tell which function holds a PC. */
export function symbolsElf(symbols: readonly KernelSymbol[]): Uint8Array {
  const sorted = [...symbols].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  const text = sorted.filter((s) => isText(s.type));
  const lo = text.length ? text[0]!.address : 0n;
  const hi = text.length ? text[text.length - 1]!.address + 4n : 0n;
  const next = new Map<KernelSymbol, bigint>();
  for (let i = 0; i < sorted.length; i++) {
    let j = i + 1;
    while (j < sorted.length && sorted[j]!.address === sorted[i]!.address) j++;
    next.set(sorted[i]!, j < sorted.length ? sorted[j]!.address : hi);
  }
  const strtab = new Strings();
  const shstr = new Strings();
  const names = {
    text: shstr.add('.text'),
    symtab: shstr.add('.symtab'),
    strtab: shstr.add('.strtab'),
    shstrtab: shstr.add('.shstrtab'),
  };
  // Locals first: sh_info of .symtab is the index of the first global.
  const local = sorted.filter((s) => s.type === s.type.toLowerCase() && !'wv'.includes(s.type));
  const isLocal = new Set(local);
  const global = sorted.filter((s) => !isLocal.has(s));
  const ordered = [...local, ...global];
  const symtab = Buffer.alloc(24 * (ordered.length + 1));
  ordered.forEach((s, i) => {
    const o = 24 * (i + 1);
    const bind = isLocal.has(s) ? STB_LOCAL : 'WwVv'.includes(s.type) ? STB_WEAK : STB_GLOBAL;
    const fn = isText(s.type);
    const type = fn ? STT_FUNC : 'Aa'.includes(s.type) ? STT_NOTYPE : STT_OBJECT;
    symtab.writeUInt32LE(strtab.add(s.name), o);
    symtab.writeUInt8((bind << 4) | type, o + 4);
    symtab.writeUInt16LE(fn ? 1 : SHN_ABS, o + 6);
    symtab.writeBigUInt64LE(s.address, o + 8);
    symtab.writeBigUInt64LE(fn ? next.get(s)! - s.address : 0n, o + 16);
  });
  const str = strtab.bytes();
  const shs = shstr.bytes();
  const symOff = 64;
  const strOff = symOff + symtab.length;
  const shsOff = strOff + str.length;
  const shOff = (shsOff + shs.length + 7) & ~7;
  const out = Buffer.alloc(shOff + 5 * 64);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // ELF64, little-endian, version 1
  out.writeUInt16LE(2, 16); // ET_EXEC
  out.writeUInt16LE(EM_AARCH64, 18);
  out.writeUInt32LE(1, 20);
  out.writeBigUInt64LE(BigInt(shOff), 40);
  out.writeUInt16LE(64, 52); // e_ehsize
  out.writeUInt16LE(56, 54); // e_phentsize
  out.writeUInt16LE(64, 58); // e_shentsize
  out.writeUInt16LE(5, 60); // e_shnum
  out.writeUInt16LE(4, 62); // e_shstrndx
  symtab.copy(out, symOff);
  str.copy(out, strOff);
  shs.copy(out, shsOff);
  const section = (
    i: number,
    f: {
      name: number;
      type: number;
      flags?: number;
      addr?: bigint;
      off: number;
      size: bigint;
      link?: number;
      info?: number;
      align: number;
      entsize?: number;
    },
  ) => {
    const o = shOff + 64 * i;
    out.writeUInt32LE(f.name, o);
    out.writeUInt32LE(f.type, o + 4);
    out.writeBigUInt64LE(BigInt(f.flags ?? 0), o + 8);
    out.writeBigUInt64LE(f.addr ?? 0n, o + 16);
    out.writeBigUInt64LE(BigInt(f.off), o + 24);
    out.writeBigUInt64LE(f.size, o + 32);
    out.writeUInt32LE(f.link ?? 0, o + 40);
    out.writeUInt32LE(f.info ?? 0, o + 44);
    out.writeBigUInt64LE(BigInt(f.align), o + 48);
    out.writeBigUInt64LE(BigInt(f.entsize ?? 0), o + 56);
  };
  section(1, {
    name: names.text,
    type: SHT_NOBITS,
    flags: SHF_ALLOC | SHF_EXECINSTR,
    addr: lo,
    off: symOff,
    size: hi - lo,
    align: 4,
  });
  section(2, {
    name: names.symtab,
    type: SHT_SYMTAB,
    off: symOff,
    size: BigInt(symtab.length),
    link: 3,
    info: local.length + 1,
    align: 8,
    entsize: 24,
  });
  section(3, { name: names.strtab, type: SHT_STRTAB, off: strOff, size: BigInt(str.length), align: 1 });
  section(4, { name: names.shstrtab, type: SHT_STRTAB, off: shsOff, size: BigInt(shs.length), align: 1 });
  return out;
}
