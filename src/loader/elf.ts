// ELF64 little-endian AArch64 images: PT_LOAD segments, entry point, symbol table, line table.
import type { LineSections } from './dwarf-line.js';

export class LoadError extends Error {}

export interface Segment {
  paddr: number;
  vaddr: bigint;
  data: Uint8Array;
  memsz: number;
}
export interface ElfSymbol {
  name: string;
  value: bigint;
  size: number;
  type: 'func' | 'object' | 'other';
}
export interface Image {
  entry: bigint;
  segments: Segment[];
  symbols: ElfSymbol[];
  /** The DWARF sections a line table needs, when the image was built with -g. */
  debug?: LineSections;
  /** x0 at reset (the Linux boot protocol's DTB address); 0 when absent. */
  x0?: bigint;
  /** Values written after the segments load, over them if they overlap (QEMU's -device loader,data=). */
  writes?: Segment[];
}

const EM_AARCH64 = 183;
const PT_LOAD = 1;
const PF_X = 1;
const SHT_SYMTAB = 2;

export function isElf(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x7f && buf[1] === 0x45 && buf[2] === 0x4c && buf[3] === 0x46;
}

/** Little-endian field reads that refuse to leave the file: a damaged offset is a LoadError, not a crash. */
class Reader {
  private readonly dv: DataView;
  constructor(
    private readonly buf: Uint8Array,
    private readonly fail: (why: string) => never,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private check(off: number, size: number, what: string): void {
    if (!Number.isSafeInteger(off) || off < 0 || off + size > this.buf.length) {
      this.fail(`${what} at offset ${off} lies outside the file (${this.buf.length} bytes)`);
    }
  }
  u8(off: number, what: string): number {
    this.check(off, 1, what);
    return this.buf[off]!;
  }
  u16(off: number, what: string): number {
    this.check(off, 2, what);
    return this.dv.getUint16(off, true);
  }
  u32(off: number, what: string): number {
    this.check(off, 4, what);
    return this.dv.getUint32(off, true);
  }
  u64(off: number, what: string): bigint {
    this.check(off, 8, what);
    return this.dv.getBigUint64(off, true);
  }
  /** A 64-bit file offset or size, which must fit a JS number to mean anything. */
  off(off: number, what: string): number {
    const v = this.u64(off, what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} ${v} is not a valid offset or size`);
    return Number(v);
  }
  bytes(off: number, len: number, what: string): Uint8Array {
    this.check(off, len, what);
    return this.buf.subarray(off, off + len);
  }
}

export function parseElf(buf: Uint8Array, what = 'image'): Image {
  const fail = (why: string): never => {
    throw new LoadError(`${what}: ${why}`);
  };
  if (!isElf(buf)) fail('not an ELF file');
  if (buf.length < 64) fail('truncated ELF header');
  if (buf[4] !== 2) fail('not a 64-bit ELF (ELFCLASS64 expected)');
  if (buf[5] !== 1) fail('not a little-endian ELF');
  const r = new Reader(buf, fail);
  const machine = r.u16(18, 'e_machine');
  if (machine !== EM_AARCH64) fail(`ELF machine is ${machine}, not AArch64 (${EM_AARCH64})`);
  const phoff = r.off(32, 'e_phoff');
  const shoff = r.off(40, 'e_shoff');
  const phentsize = r.u16(54, 'e_phentsize'),
    phnum = r.u16(56, 'e_phnum');
  const shentsize = r.u16(58, 'e_shentsize'),
    shnum = r.u16(60, 'e_shnum');
  if (phnum > 0 && phentsize < 56) fail(`program header size ${phentsize} is too small`);
  if (phoff + phnum * phentsize > buf.length) fail('truncated program headers');

  const segments: Segment[] = [];
  const index: number[] = []; // each segment's program header number, for messages
  let entry = r.u64(24, 'e_entry');
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (r.u32(p, 'p_type') !== PT_LOAD) continue;
    const offset = r.off(p + 8, 'p_offset');
    const vaddr = r.u64(p + 16, 'p_vaddr');
    const paddr = r.off(p + 24, 'p_paddr');
    const filesz = r.off(p + 32, 'p_filesz');
    const memsz = r.off(p + 40, 'p_memsz');
    if (offset + filesz > buf.length)
      fail(`segment ${i} is truncated (needs bytes up to ${offset + filesz}, file has ${buf.length})`);
    if (filesz > memsz) fail(`segment ${i} has more file bytes (${filesz}) than memory bytes (${memsz})`);
    // e_entry is a virtual address: inside an executable segment loaded elsewhere, QEMU enters at its physical twin.
    const executable = (r.u32(p + 4, 'p_flags') & PF_X) !== 0;
    if (executable && vaddr !== BigInt(paddr) && entry >= vaddr && entry < vaddr + BigInt(filesz))
      entry = entry - vaddr + BigInt(paddr);
    if (memsz === 0) continue;
    segments.push({ paddr, vaddr, data: buf.subarray(offset, offset + filesz), memsz });
    index.push(i);
  }
  if (segments.length === 0) fail('no loadable segments');
  refuseOverlaps(segments, index, fail);
  refuseEntry(entry, segments, fail);
  const debug = readDebugSections(r, shoff, shnum, shentsize);
  return { entry, segments, symbols: readSymbols(r, shoff, shnum, shentsize), ...(debug ? { debug } : {}) };
}

const SHT_NOBITS = 8;

/** .debug_line and the string sections its file names point into, by section name. */
function readDebugSections(r: Reader, shoff: number, shnum: number, shentsize: number): LineSections | undefined {
  if (shoff === 0 || shnum === 0) return undefined;
  const shstrndx = r.u16(62, 'e_shstrndx');
  if (shstrndx >= shnum) return undefined;
  const names = r.bytes(
    r.off(shoff + shstrndx * shentsize + 24, 'section name table offset'),
    r.off(shoff + shstrndx * shentsize + 32, 'section name table size'),
    'section name table',
  );
  const found = new Map<string, Uint8Array>();
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize;
    const nameOff = r.u32(h, 'sh_name');
    if (nameOff >= names.length || r.u32(h + 4, 'sh_type') === SHT_NOBITS) continue;
    const end = names.indexOf(0, nameOff);
    const name = new TextDecoder().decode(names.subarray(nameOff, end < 0 ? names.length : end));
    if (name !== '.debug_line' && name !== '.debug_line_str' && name !== '.debug_str') continue;
    found.set(name, r.bytes(r.off(h + 24, `${name} offset`), r.off(h + 32, `${name} size`), name));
  }
  const line = found.get('.debug_line');
  if (!line) return undefined;
  const lineStr = found.get('.debug_line_str'),
    str = found.get('.debug_str');
  return { line, ...(lineStr ? { lineStr } : {}), ...(str ? { str } : {}) };
}

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

/** The first two of `segments` (by address) that load over each other, as indices into `segments`. */
export function overlapping(segments: readonly Segment[]): [number, number] | null {
  const order = segments.map((_, k) => k).sort((a, b) => segments[a]!.paddr - segments[b]!.paddr);
  for (let k = 1; k < order.length; k++) {
    const a = segments[order[k - 1]!]!,
      b = segments[order[k]!]!;
    if (b.paddr < a.paddr + a.memsz) return [order[k - 1]!, order[k]!];
  }
  return null;
}

export const segmentRange = (s: Segment): string => `${hex(s.paddr)}..${hex(s.paddr + s.memsz)}`;

/** Two segments loading over each other: QEMU refuses the image ("rom: requested regions overlap"), and so do we. */
function refuseOverlaps(segments: Segment[], index: number[], fail: (why: string) => never): void {
  const o = overlapping(segments);
  if (o)
    fail(
      `segments ${index[o[0]]} (${segmentRange(segments[o[0]]!)}) and ${index[o[1]]} (${segmentRange(segments[o[1]]!)}) overlap`,
    );
}

/** An entry point the CPU cannot start at: it would spin in an instruction abort taken to an unset vector. */
function refuseEntry(entry: bigint, segments: Segment[], fail: (why: string) => never): void {
  if ((entry & 3n) !== 0n) fail(`entry point ${hex(entry)} is not 4-byte aligned`);
  if (!segments.some((s) => entry >= BigInt(s.paddr) && entry < BigInt(s.paddr + s.memsz)))
    fail(
      `entry point ${hex(entry)} is outside every loaded segment ` +
        `(${segments.map((s) => `${hex(s.paddr)}..${hex(s.paddr + s.memsz)}`).join(', ')})`,
    );
}

/** The symbol table, if the section headers hold one (a stripped image simply has none). */
function readSymbols(r: Reader, shoff: number, shnum: number, shentsize: number): ElfSymbol[] {
  const symbols: ElfSymbol[] = [];
  if (shoff === 0 || shnum === 0) return symbols;
  const decoder = new TextDecoder();
  for (let i = 0; i < shnum; i++) {
    const s = shoff + i * shentsize;
    if (r.u32(s + 4, 'sh_type') !== SHT_SYMTAB) continue;
    const off = r.off(s + 24, 'symbol table offset');
    const size = r.off(s + 32, 'symbol table size');
    const strHdr = shoff + r.u32(s + 40, 'sh_link') * shentsize;
    const strOff = r.off(strHdr + 24, 'string table offset');
    const strSize = r.off(strHdr + 32, 'string table size');
    const strtab = r.bytes(strOff, strSize, 'string table');
    for (let e = off; e + 24 <= off + size; e += 24) {
      const nameOff = r.u32(e, 'symbol name');
      const info = r.u8(e + 4, 'symbol info');
      const shndx = r.u16(e + 6, 'symbol section');
      if (nameOff === 0 || shndx === 0 || nameOff >= strtab.length) continue;
      const end = strtab.indexOf(0, nameOff);
      const t = info & 0xf;
      symbols.push({
        name: decoder.decode(strtab.subarray(nameOff, end < 0 ? strtab.length : end)),
        value: r.u64(e + 8, 'symbol value'),
        size: r.off(e + 16, 'symbol size'),
        type: t === 2 ? 'func' : t === 1 ? 'object' : 'other',
      });
    }
  }
  return symbols;
}

/** A raw binary placed at `addr`, entered at its first byte. */
export function rawImage(buf: Uint8Array, addr: bigint, what = 'image'): Image {
  if (buf.length === 0) throw new LoadError(`${what}: empty file`);
  if ((addr & 3n) !== 0n)
    throw new LoadError(`load address ${hex(addr)} is not 4-byte aligned (a raw image is entered at its first byte)`);
  return { entry: addr, segments: [{ paddr: Number(addr), vaddr: addr, data: buf, memsz: buf.length }], symbols: [] };
}
