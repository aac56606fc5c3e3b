// ELF64 little-endian AArch64 images: PT_LOAD segments, entry point, symbol table.

export class LoadError extends Error {}

export interface Segment { paddr: number; vaddr: bigint; data: Uint8Array; memsz: number }
export interface ElfSymbol { name: string; value: bigint; size: number; type: 'func' | 'object' | 'other' }
export interface Image {
  entry: bigint;
  segments: Segment[];
  symbols: ElfSymbol[];
}

const EM_AARCH64 = 183;
const PT_LOAD = 1;
const SHT_SYMTAB = 2;

export function isElf(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x7f && buf[1] === 0x45 && buf[2] === 0x4c && buf[3] === 0x46;
}

export function parseElf(buf: Uint8Array, what = 'image'): Image {
  const fail = (why: string): never => { throw new LoadError(`${what}: ${why}`); };
  if (!isElf(buf)) fail('not an ELF file');
  if (buf.length < 64) fail('truncated ELF header');
  if (buf[4] !== 2) fail('not a 64-bit ELF (ELFCLASS64 expected)');
  if (buf[5] !== 1) fail('not a little-endian ELF');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const machine = dv.getUint16(18, true);
  if (machine !== EM_AARCH64) fail(`ELF machine is ${machine}, not AArch64 (${EM_AARCH64})`);
  const entry = dv.getBigUint64(24, true);
  const phoff = Number(dv.getBigUint64(32, true));
  const shoff = Number(dv.getBigUint64(40, true));
  const phentsize = dv.getUint16(54, true), phnum = dv.getUint16(56, true);
  const shentsize = dv.getUint16(58, true), shnum = dv.getUint16(60, true);
  if (phoff + phnum * phentsize > buf.length) fail('truncated program headers');

  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (dv.getUint32(p, true) !== PT_LOAD) continue;
    const offset = Number(dv.getBigUint64(p + 8, true));
    const vaddr = dv.getBigUint64(p + 16, true);
    const paddr = Number(dv.getBigUint64(p + 24, true));
    const filesz = Number(dv.getBigUint64(p + 32, true));
    const memsz = Number(dv.getBigUint64(p + 40, true));
    if (offset + filesz > buf.length) fail(`segment ${i} is truncated (needs bytes up to ${offset + filesz}, file has ${buf.length})`);
    if (memsz === 0) continue;
    segments.push({ paddr, vaddr, data: buf.subarray(offset, offset + filesz), memsz });
  }
  if (segments.length === 0) fail('no loadable segments');

  const symbols: ElfSymbol[] = [];
  if (shoff !== 0 && shoff + shnum * shentsize <= buf.length) {
    for (let i = 0; i < shnum; i++) {
      const s = shoff + i * shentsize;
      if (dv.getUint32(s + 4, true) !== SHT_SYMTAB) continue;
      const off = Number(dv.getBigUint64(s + 24, true));
      const size = Number(dv.getBigUint64(s + 32, true));
      const link = dv.getUint32(s + 40, true);
      const strHdr = shoff + link * shentsize;
      const strOff = Number(dv.getBigUint64(strHdr + 24, true));
      if (off + size > buf.length) break;
      for (let e = off; e + 24 <= off + size; e += 24) {
        const nameOff = dv.getUint32(e, true);
        const info = buf[e + 4]!;
        const shndx = dv.getUint16(e + 6, true);
        if (nameOff === 0 || shndx === 0) continue;
        let end = strOff + nameOff;
        while (end < buf.length && buf[end] !== 0) end++;
        const name = new TextDecoder().decode(buf.subarray(strOff + nameOff, end));
        const t = info & 0xf;
        symbols.push({
          name, value: dv.getBigUint64(e + 8, true), size: Number(dv.getBigUint64(e + 16, true)),
          type: t === 2 ? 'func' : t === 1 ? 'object' : 'other',
        });
      }
    }
  }
  return { entry, segments, symbols };
}

/** A raw binary placed at `addr`, entered at its first byte. */
export function rawImage(buf: Uint8Array, addr: bigint): Image {
  return { entry: addr, segments: [{ paddr: Number(addr), vaddr: addr, data: buf, memsz: buf.length }], symbols: [] };
}
