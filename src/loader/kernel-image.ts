// A Linux kernel file as the kernel sees itself in memory: the arm64 Image, gunzipped when it is
// the gzip-compressed `vmlinuz` some distributions ship.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { LoadError } from './elf.js';
import { hostErrorText } from './host-error.js';

/** QEMU's LOAD_IMAGE_MAX_GUNZIP_BYTES: a larger kernel is not a kernel. */
const MAX_GUNZIP = 64 << 20;

export const isGzip = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** The kernel's bytes, decompressed when gzip-compressed. */
export function kernelBytes(bytes: Uint8Array, path: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes, { maxOutputLength: MAX_GUNZIP });
  } catch (e) {
    throw new LoadError(`${path}: cannot decompress this gzip file: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function readKernelImage(path: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new LoadError(`cannot read ${path}: ${hostErrorText(e)}`);
  }
  return kernelBytes(bytes, path);
}
