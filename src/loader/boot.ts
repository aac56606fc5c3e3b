// Booting as QEMU's virt board boots (hw/arm/boot.c's placement, reimplemented): an ELF at its
// physical addresses, or a Linux arm64 Image (raw or gzip-compressed) 2 MiB into RAM per its
// header, entered at EL2 with the MMU off, x0 = the DTB and x1-x3 = 0; the initrd and DTB placed
// where QEMU 7.2 places them; and the blobs and values of QEMU's generic loader (-device loader).
import { gunzipSync } from 'node:zlib';
import { isElf, overlapping, parseElf, segmentRange, LoadError, type Image, type Segment } from './elf.js';
import { FdtError } from './fdt.js';
import { VIRT } from '../board/machine.js';
import { userDtb, virtDtb, type BootInfo } from '../board/dtb.js';

const MiB = 0x10_0000;
/** QEMU's KERNEL64_LOAD_ADDR: where a raw image with no header goes. */
const RAW_KERNEL_OFFSET = 0x8_0000;
/** QEMU keeps its boot stub below 4 KiB, so a text_offset under that moves up by 2 MiB. */
const BOOTLOADER_MAX_SIZE = 0x1000;
/** QEMU's LOAD_IMAGE_MAX_GUNZIP_BYTES. */
const MAX_GUNZIP = 64 * MiB;
const PAGE = 0x1000;

/** A segment with what it is, for messages. */
interface Named {
  seg: Segment;
  name: string;
}
const placed = (addr: number, data: Uint8Array): Segment => ({
  paddr: addr,
  vaddr: BigInt(addr),
  data,
  memsz: data.length,
});

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;
const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

/** A file given on the command line, already read. */
export interface BootFile {
  path: string;
  bytes: Uint8Array;
}

/** One -device loader: a file at an address (or at an ELF's own), or a value of 1-8 bytes. */
export interface LoaderDevice {
  file?: BootFile;
  addr?: bigint;
  cpuNum?: number;
  data?: bigint;
  dataLen?: number;
  dataBigEndian?: boolean;
  forceRaw?: boolean;
}

export interface BootRequest {
  /** -kernel (or the image argument). */
  kernel?: BootFile;
  /** The image argument is stricter than -kernel: an ELF or a Linux Image, not any raw file. */
  kernelFromArgument?: boolean;
  initrd?: BootFile;
  dtb?: BootFile;
  append?: string;
  loaders?: LoaderDevice[];
  ramSize: number;
  smp: number;
}

export interface Boot {
  image: Image;
  /** The tree the guest gets and where it lies, if it gets one. */
  dtb: { addr: number; blob: Uint8Array } | null;
  /** Things QEMU does silently that a user should know (one line each). */
  notes: string[];
}

/** The arm64 Image header (Documentation/arch/arm64/booting.rst), if the buffer has one. */
export interface ImageHeader {
  textOffset: bigint;
  imageSize: bigint;
  flags: bigint;
}

export function imageHeader(buf: Uint8Array): ImageHeader | null {
  if (buf.length < 64 || buf[56] !== 0x41 || buf[57] !== 0x52 || buf[58] !== 0x4d || buf[59] !== 0x64) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    textOffset: dv.getBigUint64(8, true),
    imageSize: dv.getBigUint64(16, true),
    flags: dv.getBigUint64(24, true),
  };
}

const isGzip = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
/** An EFI zboot kernel: a PE/COFF stub ('MZ') carrying 'zimg' and a compressed Image. */
const isZboot = (b: Uint8Array): boolean =>
  b.length >= 8 && b[0] === 0x4d && b[1] === 0x5a && new TextDecoder().decode(b.subarray(4, 8)) === 'zimg';

/** The kernel's bytes as QEMU loads them: gunzipped when gzip-compressed. */
function decompressed(k: BootFile): Uint8Array {
  if (!isGzip(k.bytes)) return k.bytes;
  try {
    return gunzipSync(k.bytes, { maxOutputLength: MAX_GUNZIP });
  } catch (e) {
    throw new LoadError(`${k.path}: cannot decompress this gzip file: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** A Linux kernel placed per its Image header (or 512 KiB into RAM without one), as QEMU's load_aarch64_image. */
function placeLinux(k: BootFile, bytes: Uint8Array, ramSize: number): { seg: Segment; entry: number; end: number } {
  const hdr = imageHeader(bytes);
  let offset = RAW_KERNEL_OFFSET;
  let size = bytes.length;
  if (hdr && hdr.imageSize !== 0n) {
    if ((hdr.flags & 1n) !== 0n)
      throw new LoadError(`${k.path}: a big-endian kernel (Image flags bit 0): not supported`);
    if (hdr.textOffset >= BigInt(ramSize) || hdr.imageSize > BigInt(ramSize))
      throw new LoadError(
        `${k.path}: Image header asks for text_offset ${hex(hdr.textOffset)}, size ${hex(hdr.imageSize)}`,
      );
    offset = Number(hdr.textOffset);
    if (offset < BOOTLOADER_MAX_SIZE) offset += 2 * MiB;
    size = Math.max(Number(hdr.imageSize), bytes.length);
  }
  if (offset + size > ramSize)
    throw new LoadError(
      `${k.path}: the kernel (${hex(size)} bytes at RAM + ${hex(offset)}) does not fit in ${ramSize / MiB} MiB of RAM`,
    );
  const entry = VIRT.RAM_BASE + offset;
  return { seg: placed(entry, bytes), entry, end: entry + size };
}

/** -device loader: files (ELF at their addresses, anything else raw at addr), values, and PE 0's start. */
function loaderItems(
  loaders: LoaderDevice[],
  smp: number,
): { segments: Named[]; writes: Segment[]; entry?: bigint; symbols: Image['symbols'] } {
  const segments: Named[] = [];
  const writes: Segment[] = [];
  const symbols: Image['symbols'] = [];
  let entry: bigint | undefined;
  for (const l of loaders) {
    if (l.cpuNum !== undefined && l.cpuNum >= smp)
      throw new LoadError(`-device loader: cpu-num=${l.cpuNum} names no PE (-smp ${smp})`);
    let start: bigint | undefined = l.addr;
    if (l.file) {
      if (isElf(l.file.bytes) && !l.forceRaw) {
        const elf = parseElf(l.file.bytes, l.file.path);
        segments.push(...elf.segments.map((seg) => ({ seg, name: `-device loader file ${l.file!.path}` })));
        symbols.push(...elf.symbols);
        start = elf.entry;
      } else {
        if (l.addr === undefined) throw new LoadError(`-device loader,file=${l.file.path}: a raw file needs addr=`);
        if (l.file.bytes.length === 0) throw new LoadError(`${l.file.path}: empty file`);
        segments.push({ seg: placed(Number(l.addr), l.file.bytes), name: `-device loader file ${l.file.path}` });
      }
    } else if (l.dataLen !== undefined) {
      // QEMU stores the 64-bit value in the byte order asked for, then writes its first data-len bytes
      // (so data-be with data-len 4 writes the value's high word).
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, l.data!, !l.dataBigEndian);
      writes.push(placed(Number(l.addr!), b.subarray(0, l.dataLen)));
    }
    // QEMU's generic loader sets the PC of cpu-num (a file's start), or of PE 0 for addr= alone.
    const setsPc = l.file ? l.cpuNum !== undefined : l.dataLen === undefined;
    if (setsPc && (l.cpuNum ?? 0) === 0) entry = start;
  }
  return { segments, writes, entry, symbols };
}

/**
 * Lays out what a boot loads: the kernel, initrd and DTB as QEMU's arm_setup_direct_kernel_boot
 * places them, and the generic loader's files and values.
 */
export function prepareBoot(req: BootRequest): Boot {
  const ramEnd = VIRT.RAM_BASE + req.ramSize;
  const notes: string[] = [];
  const loaded = loaderItems(req.loaders ?? [], req.smp);
  const info: BootInfo = {
    ramSize: req.ramSize,
    smp: req.smp,
    ...(req.append ? { bootargs: req.append } : {}),
  };
  const tree = (): Uint8Array => {
    try {
      return req.dtb ? userDtb(req.dtb.bytes, info, req.dtb.path) : virtDtb(info);
    } catch (e) {
      if (e instanceof FdtError) throw new LoadError(e.message);
      throw e;
    }
  };
  const image = (kernel: Image | null, entry: bigint, x0: bigint | undefined, extra: Named[]): Image => {
    const named: Named[] = [
      ...(kernel?.segments ?? []).map((seg) => ({ seg, name: `the kernel (${k!.path})` })),
      ...extra,
      ...loaded.segments,
    ];
    // What QEMU refuses as "rom: requested regions overlap".
    const o = overlapping(named.map((n) => n.seg));
    if (o) {
      const [a, b] = [named[o[0]]!, named[o[1]]!];
      throw new LoadError(`${a.name} at ${segmentRange(a.seg)} and ${b.name} at ${segmentRange(b.seg)} overlap`);
    }
    return {
      entry,
      segments: named.map((n) => n.seg),
      symbols: [...(kernel?.symbols ?? []), ...loaded.symbols],
      ...(kernel?.debug ? { debug: kernel.debug } : {}),
      ...(x0 !== undefined ? { x0 } : {}),
      ...(loaded.writes.length > 0 ? { writes: loaded.writes } : {}),
    };
  };
  const dtbSegment = (addr: number, blob: Uint8Array): Named => ({ seg: placed(addr, blob), name: 'the DTB' });

  const k = req.kernel;
  if (!k) {
    // No kernel: QEMU starts the firmware, here the generic loader's entry, with the DTB at the base of RAM.
    if (loaded.entry === undefined)
      throw new LoadError(
        'nothing to run: give an image, -kernel, or -device loader with cpu-num=0 (or addr= alone) to say where PE 0 starts',
      );
    if (req.initrd) throw new LoadError('-initrd needs -kernel');
    const blob = tree();
    return {
      image: image(null, loaded.entry, undefined, [dtbSegment(VIRT.RAM_BASE, blob)]),
      dtb: { addr: VIRT.RAM_BASE, blob },
      notes,
    };
  }
  if (loaded.entry !== undefined)
    throw new LoadError("-device loader sets PE 0's start (cpu-num=0 or addr= alone) and so does -kernel: give one");

  if (isElf(k.bytes)) {
    const elf = parseElf(k.bytes, k.path);
    if (req.initrd) notes.push(`-initrd is not loaded for an ELF kernel (QEMU loads one only for a Linux Image)`);
    // QEMU puts the DTB at the base of RAM when the ELF leaves room for it there, and gives none otherwise.
    const low = Math.min(...elf.segments.map((s) => s.paddr));
    const blob = tree();
    const fits = low > VIRT.RAM_BASE ? blob.length <= low - VIRT.RAM_BASE : false;
    return {
      image: image(elf, elf.entry, undefined, fits ? [dtbSegment(VIRT.RAM_BASE, blob)] : []),
      dtb: fits ? { addr: VIRT.RAM_BASE, blob } : null,
      notes,
    };
  }

  if (isZboot(k.bytes))
    throw new LoadError(
      `${k.path}: an EFI zboot kernel: not supported (give the Image inside it, as vmlinuz or Image)`,
    );
  const bytes = decompressed(k);
  if (bytes.length === 0) throw new LoadError(`${k.path}: empty${isGzip(k.bytes) ? ' once decompressed' : ' file'}`);
  if (req.kernelFromArgument && !imageHeader(bytes))
    throw new LoadError(
      `${k.path}: not an ELF file or an arm64 Linux Image (use --load-address to run a raw binary, or -kernel for QEMU's placement)`,
    );
  const kernel = placeLinux(k, bytes, req.ramSize);
  const initrdStart = alignUp(Math.max(VIRT.RAM_BASE + Math.min(req.ramSize / 2, 128 * MiB), kernel.end), PAGE);
  const extra: Named[] = [];
  let initrdSize = 0;
  if (req.initrd) {
    initrdSize = req.initrd.bytes.length;
    if (initrdStart >= ramEnd) throw new LoadError('not enough space after the kernel to load the initrd');
    if (initrdStart + initrdSize > ramEnd)
      throw new LoadError(`${req.initrd.path}: the initrd is too big to fit into RAM after the kernel`);
    if (initrdSize > 0) {
      extra.push({ seg: placed(initrdStart, req.initrd.bytes), name: `the initrd (${req.initrd.path})` });
      info.initrd = { start: initrdStart, end: initrdStart + initrdSize };
    }
  }
  const dtbAddr = alignUp(initrdStart + initrdSize, 2 * MiB);
  const blob = tree();
  if (dtbAddr + blob.length > ramEnd) throw new LoadError('not enough space for the DTB after the kernel and initrd');
  extra.push(dtbSegment(dtbAddr, blob));
  return {
    image: image({ entry: 0n, segments: [kernel.seg], symbols: [] }, BigInt(kernel.entry), BigInt(dtbAddr), extra),
    dtb: { addr: dtbAddr, blob },
    notes,
  };
}
