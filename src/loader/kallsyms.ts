// The kernel's own symbol table (kallsyms), found in an arm64 Image by its structure, and
// System.map files. kallsyms is what the kernel prints backtraces with; scripts/kallsyms.c writes it
// as a few adjacent arrays, which we recognise from their shapes alone:
//   kallsyms_num_syms, kallsyms_names (per symbol: a length byte, two when bit 7 is set, then
//   token numbers), kallsyms_markers (where every 256th symbol's entry starts),
//   kallsyms_token_table (256 NUL-terminated strings), kallsyms_token_index (256 u16 offsets into it),
//   and kallsyms_offsets (u32 per symbol) with kallsyms_relative_base (u64): address = base + offset.
// Up to Linux 6.3 the offsets and the base come before kallsyms_num_syms; from 6.4 after the token index.
import { LoadError } from './elf.js';

export class KallsymsError extends LoadError {}

export interface KernelSymbol {
  readonly name: string;
  /** nm's letter: T/t text, D/d data, R/r read-only, B/b bss, A absolute, W/w weak, V/v. */
  readonly type: string;
  readonly address: bigint;
}

/** Where the tables were found (file offsets), for tests and messages. */
export interface KallsymsTables {
  readonly numSyms: number;
  readonly names: number;
  readonly markers: number;
  readonly markerSize: 4 | 8;
  readonly tokenTable: number;
  readonly tokenIndex: number;
  readonly offsets: number;
  readonly relativeBase: bigint;
  /** The link address of the image's first byte (a symbol's file offset is its address minus this). */
  readonly imageBase: bigint;
}

const align8 = (n: number): number => (n + 7) & ~7;

/** The token index: 256 increasing u16 starting at 0 whose strings lie NUL-terminated just before it. */
function findTokens(buf: Uint8Array, dv: DataView): { table: number; index: number; tokens: string[] }[] {
  const found: { table: number; index: number; tokens: string[] }[] = [];
  const end = buf.length - 512;
  for (let p = 0; p <= end; p += 8) {
    // Cheap filter first: index[0] = 0 and the first tokens are short.
    if (dv.getUint16(p, true) !== 0) continue;
    const i1 = dv.getUint16(p + 2, true);
    if (i1 < 2 || i1 > 64) continue;
    let ok = true;
    let prev = 0;
    for (let i = 1; i < 256 && ok; i++) {
      const v = dv.getUint16(p + 2 * i, true);
      ok = v > prev + 1 && v - prev <= 128;
      prev = v;
    }
    if (!ok) continue;
    // The table ends, NUL-padded to 8 bytes, at the index; its last token is up to 128 bytes.
    // The table ends just before the index, NUL-padded to its alignment; its last token is up to 128 bytes.
    let pad = 0;
    while (pad < 8 && buf[p - pad - 1] === 0) pad++;
    for (let lastLen = 1, done = false; lastLen <= 128 && !done; lastLen++)
      for (let k = 1; k <= pad && !done; k++) {
        const table = p - k - prev - lastLen;
        if (table >= 0 && checkTable(buf, dv, table, p)) {
          found.push({ table, index: p, tokens: readTokens(buf, dv, table, p) });
          done = true;
        }
      }
  }
  return found;
}

function checkTable(buf: Uint8Array, dv: DataView, table: number, index: number): boolean {
  for (let i = 0; i < 256; i++) {
    const s = table + dv.getUint16(index + 2 * i, true);
    const e = i < 255 ? table + dv.getUint16(index + 2 * i + 2, true) - 1 : buf.indexOf(0, s);
    if (buf[e] !== 0) return false;
    for (let k = s; k < e; k++) if (buf[k]! < 0x20 || buf[k]! > 0x7e) return false;
  }
  return true;
}

function readTokens(buf: Uint8Array, dv: DataView, table: number, index: number): string[] {
  const tokens: string[] = [];
  for (let i = 0; i < 256; i++) {
    const s = table + dv.getUint16(index + 2 * i, true);
    tokens.push(String.fromCharCode(...buf.subarray(s, buf.indexOf(0, s))));
  }
  return tokens;
}

/** The length of one kallsyms_names entry at `p`: [header bytes, token count]. */
function entryAt(buf: Uint8Array, p: number): [number, number] {
  const b = buf[p]!;
  return b & 0x80 ? [2, (b & 0x7f) | (buf[p + 1]! << 7)] : [1, b];
}

/** Skips `n` names entries from `p`; -1 if they run past `limit` or one is empty. */
function skipEntries(buf: Uint8Array, p: number, n: number, limit: number): number {
  for (let i = 0; i < n; i++) {
    if (p >= limit) return -1;
    const [h, len] = entryAt(buf, p);
    if (len === 0) return -1;
    p += h + len;
  }
  return p;
}

interface Names {
  numSyms: number;
  names: number;
  markers: number;
  markerSize: 4 | 8;
}

/**
 * The names end at the markers; kallsyms_num_syms precedes the names. The markers end at the token
 * table, or (6.1 stable, 6.2, 6.3) at kallsyms_seqs_of_names, 3 bytes per symbol, which ends there.
 */
function findNames(buf: Uint8Array, dv: DataView, tokenTable: number): Names | null {
  for (const markerSize of [4, 8] as const) {
    const read = (o: number): number => (markerSize === 4 ? dv.getUint32(o, true) : Number(dv.getBigUint64(o, true)));
    // Where the markers may end, with how many there are: a cheap test of the array's shape first.
    const tryEnd = (end: number, count: number, seqs: boolean): Names | null => {
      const markers = end - count * markerSize;
      if (markers < 8 || markers % markerSize !== 0 || read(markers) !== 0) return null;
      if (count > 1 && read(markers + markerSize) === 0) return null;
      const names = checkNames(buf, dv, markers, count, read, markerSize);
      if (!names) return null;
      if (seqs ? tokenTable - end - 3 * names.numSyms >= 8 || tokenTable < end + 3 * names.numSyms : false) return null;
      return names;
    };
    const tableEnd = tokenTable & ~(markerSize - 1);
    for (let count = 1; count <= 1 << 14; count++) {
      const r = tryEnd(tableEnd, count, false);
      if (r) return r;
      if (read(tableEnd - count * markerSize) === 0) break;
    }
    for (let count = 1; count <= 1 << 14; count++) {
      const hi = tokenTable - 3 * (256 * (count - 1) + 1);
      const lo = tokenTable - 3 * 256 * count - 8;
      for (let end = hi - (hi % markerSize); end >= lo && end > count * markerSize; end -= markerSize) {
        if (read(end - count * markerSize) !== 0 || read(end - markerSize) === 0) continue;
        const r = tryEnd(end, count, true);
        if (r) return r;
      }
    }
  }
  return null;
}

/** Names whose every 256th entry starts where its marker says and whose last entry ends at the markers. */
function checkNames(
  buf: Uint8Array,
  dv: DataView,
  markers: number,
  count: number,
  read: (o: number) => number,
  markerSize: 4 | 8,
): Names | null {
  const lastMarker = read(markers + (count - 1) * markerSize);
  const hi = (markers - lastMarker - 1) & ~7;
  const lo = Math.max(8, markers - lastMarker - 256 * 260);
  for (let names = hi; names >= lo; names -= 8) {
    const n = dv.getUint32(names - 8, true);
    if (n <= (count - 1) * 256 || n > count * 256) continue;
    let ok = true;
    let at = names;
    for (let k = 1; k < count && ok; k++) {
      at = skipEntries(buf, at, 256, markers);
      ok = at === names + read(markers + k * markerSize);
    }
    if (!ok) continue;
    const end = skipEntries(buf, at, n - (count - 1) * 256, markers);
    if (end >= 0 && align8(end) === markers) return { numSyms: n, names, markers, markerSize };
  }
  return null;
}

const R_AARCH64_RELATIVE = 0x403n;
const KERNEL_ALIGN = 0x20_0000n;

/**
 * The 64-bit value of a pointer-sized field at file offset `at`. A relocatable kernel (arm64's
 * CONFIG_RELOCATABLE) holds 0 there and the value in a R_AARCH64_RELATIVE entry of its .rela.dyn,
 * applied at boot: the entry whose place is the field, given that the image starts at a 2 MiB-aligned
 * link address near the value.
 */
function pointerAt(image: Uint8Array, dv: DataView, at: number): { value: bigint; imageBase: bigint } {
  const v = dv.getBigUint64(at, true);
  if (v !== 0n) return { value: v, imageBase: v - (v % KERNEL_ALIGN) };
  const pattern = new Uint8Array([0x03, 0x04, 0, 0, 0, 0, 0, 0]);
  const buf = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  for (let i = buf.indexOf(pattern, 8); i >= 0 && i + 16 <= buf.length; i = buf.indexOf(pattern, i + 8)) {
    if (i % 8 !== 0 || dv.getBigUint64(i, true) !== R_AARCH64_RELATIVE) continue;
    const place = dv.getBigUint64(i - 8, true);
    const addend = dv.getBigUint64(i + 8, true);
    const text = place - BigInt(at);
    if (text % KERNEL_ALIGN === 0n && text >> 48n === 0xffffn && addend >= text && addend - text < BigInt(image.length))
      return { value: addend, imageBase: text };
  }
  return { value: 0n, imageBase: 0n };
}

/** kallsyms_offsets and kallsyms_relative_base: before kallsyms_num_syms (≤ 6.3) or after the token index (6.4+). */
function findAddresses(
  image: Uint8Array,
  dv: DataView,
  names: Names,
  tokenIndex: number,
): { offsets: number; base: bigint; imageBase: bigint } | null {
  const n = names.numSyms;
  const candidates = [
    { offsets: names.names - 8 - 8 - align8(4 * n), base: names.names - 8 - 8 },
    { offsets: tokenIndex + 512, base: tokenIndex + 512 + align8(4 * n) },
  ];
  for (const c of candidates) {
    if (c.offsets < 0 || c.base + 8 > dv.byteLength) continue;
    // The offsets mostly ascend (the table is sorted by address); the base is a kernel address.
    let ups = 0;
    for (let i = 1; i < n; i++)
      if (dv.getUint32(c.offsets + 4 * i, true) >= dv.getUint32(c.offsets + 4 * i - 4, true)) ups++;
    if (ups < (n - 1) * 0.99) continue;
    const base = pointerAt(image, dv, c.base);
    if (base.value >> 48n === 0xffffn) return { offsets: c.offsets, base: base.value, imageBase: base.imageBase };
  }
  return null;
}

/** Finds and decodes the kallsyms tables of a kernel image (uncompressed). */
export function readKallsyms(image: Uint8Array, what = 'image'): { symbols: KernelSymbol[]; tables: KallsymsTables } {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  for (const tok of findTokens(image, dv)) {
    const names = findNames(image, dv, tok.table);
    if (!names) continue;
    const addr = findAddresses(image, dv, names, tok.index);
    if (!addr) continue;
    const symbols: KernelSymbol[] = [];
    let p = names.names;
    for (let i = 0; i < names.numSyms; i++) {
      const [h, len] = entryAt(image, p);
      let s = '';
      for (let k = p + h; k < p + h + len; k++) s += tok.tokens[image[k]!];
      p += h + len;
      const address = addr.base + BigInt(dv.getUint32(addr.offsets + 4 * i, true));
      symbols.push({ type: s.charAt(0), name: s.slice(1), address });
    }
    return {
      symbols,
      tables: {
        numSyms: names.numSyms,
        names: names.names,
        markers: names.markers,
        markerSize: names.markerSize,
        tokenTable: tok.table,
        tokenIndex: tok.index,
        offsets: addr.offsets,
        relativeBase: addr.base,
        imageBase: addr.imageBase,
      },
    };
  }
  throw new KallsymsError(`${what}: no kallsyms tables found in it (a kernel built without CONFIG_KALLSYMS?)`);
}

/** A System.map (`nm -n` output: address, type letter, name per line). */
export function parseSystemMap(text: string, what = 'System.map'): KernelSymbol[] {
  const symbols: KernelSymbol[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const m = /^([0-9a-fA-F]{1,16})\s+([A-Za-z?])\s+(\S+)(?:\s+\[\S+\])?$/.exec(line);
    if (!m) throw new KallsymsError(`${what}:${i + 1}: not a System.map line ("address type name")`);
    symbols.push({ address: BigInt(`0x${m[1]}`), type: m[2]!, name: m[3]! });
  }
  if (symbols.length === 0) throw new KallsymsError(`${what}: no symbols in it`);
  return symbols;
}
