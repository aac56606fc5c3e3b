// Debian's arm64 cloud kernel, fetched by `npm run setup` into the Linux cache (never committed):
// $HYPSTEP_LINUX_DIR, or $XDG_CACHE_HOME/hypstep/linux, or ~/.cache/hypstep/linux.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { findBtf } from '../../src/loader/btf.js';
import { repoRoot, requireTool } from './tools.js';

export function linuxCacheDir(): string {
  return (
    process.env.HYPSTEP_LINUX_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'hypstep/linux')
  );
}

/** The kernel's path; fails loudly when setup has not fetched it. */
export function debianKernel(): string {
  const path = join(linuxCacheDir(), 'vmlinuz');
  if (!existsSync(path))
    throw new Error(`Debian's arm64 kernel is not at ${path}: run 'npm run setup' (fetches linux-image-*-cloud-arm64)`);
  return path;
}

/** The image's BTF blob written to a file, for bpftool and pahole. */
export function btfBlob(image: Uint8Array): string {
  const loc = findBtf(image)[0];
  if (!loc) throw new Error('no BTF in the image');
  const path = join(mkdtempSync(join(tmpdir(), 'hypstep-btf-')), 'vmlinux.btf');
  writeFileSync(path, image.subarray(loc.offset, loc.offset + loc.length));
  return path;
}

/** pahole's offset and size of each top-level member of a struct, from its print (`/* offset size *\/`). */
export function pahole(blob: string, struct: string): Map<string, { offset: number; size: number }> {
  const text = execFileSync(requireTool('pahole'), ['-F', 'btf', '-C', struct, blob], { encoding: 'utf8' });
  const out = new Map<string, { offset: number; size: number }>();
  for (const line of text.split('\n')) {
    // Top-level members only: one tab of indentation.
    const m = /^\t[^\t].*?\b(\w+)(?:\[\d+\])*(?::\d+)?;\s+\/\*\s+(\d+)(?::\d+)?\s+(\d+)\s+\*\//.exec(line);
    if (m) out.set(m[1]!, { offset: Number(m[2]), size: Number(m[3]) });
  }
  if (out.size === 0) throw new Error(`pahole printed no members of ${struct}`);
  return out;
}

/** bpftool's C dump of an enum's enumerators. */
export function bpftoolEnum(blob: string, name: string): Map<string, bigint> {
  const c = execFileSync(requireTool('bpftool'), ['btf', 'dump', 'file', blob, 'format', 'c'], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const body = new RegExp(`enum ${name} \\{\\n([^}]*)\\};`).exec(c);
  if (!body) throw new Error(`bpftool printed no enum ${name}`);
  return new Map(
    [...body[1]!.matchAll(/^\t(\w+) = (\d+)(?:ULL)?,$/gm)].map((m) => [m[1]!, BigInt(m[2]!)] as [string, bigint]),
  );
}

/** The Linux fixture `npm run setup` leaves beside the kernel (test/tools/linux.sh). */
export interface LinuxFixture {
  dir: string;
  kernel: string;
  /** busybox, fixtures/linux/init and kvm-hello, as cpio newc, gzip-compressed. */
  initrd: string;
  /** The Debian packages they came from, one per line. */
  versions: string;
}

/** The kernel and initramfs; fails loudly when setup has not built them, or built them from older sources. */
export function linuxFixture(): LinuxFixture {
  const dir = linuxCacheDir();
  const kernel = debianKernel(),
    initrd = join(dir, 'initramfs.cpio.gz'),
    versions = join(dir, 'versions');
  for (const f of [initrd, versions])
    if (!existsSync(f))
      throw new Error(`the Linux fixture is missing (${f}): run 'npm run setup' (fetches Debian's kernel and busybox)`);
  // The initramfs holds fixtures/linux's files byte for byte (cpio stores each whole).
  const cpio = gunzipSync(readFileSync(initrd));
  for (const own of ['fixtures/linux/init', 'fixtures/linux/build/kvm-hello'])
    if (cpio.indexOf(readFileSync(join(repoRoot(), own))) < 0)
      throw new Error(`${initrd} was built from another ${own}: run 'npm run setup' (rebuilds the initramfs)`);
  return { dir, kernel, initrd, versions: readFileSync(versions, 'utf8') };
}

/**
 * The board and command line both machines boot the fixture with: QEMU's virt without the ITS and
 * the random seeds its tree would carry (hypstep has neither), so that both boot the same machine.
 * `append` adds kernel parameters (kvm-arm.mode=nvhe).
 */
export const LINUX_BOOT = (f: LinuxFixture, append = ''): string[] => [
  '-M',
  'virt,virtualization=on,gic-version=3,its=off,dtb-randomness=off',
  '-cpu',
  'max',
  '-m',
  '1G',
  '-smp',
  '2',
  '-nographic',
  '-no-reboot',
  '-kernel',
  f.kernel,
  '-initrd',
  f.initrd,
  '-append',
  // earlycon: the console from the first line; panic=-1 with -no-reboot: a panic ends the run.
  `console=ttyAMA0 earlycon panic=-1${append ? ` ${append}` : ''}`,
];

/** A console transcript without the printk timestamps. */
export const untimed = (s: string): string[] => s.split(/\r?\n/).map((l) => l.replace(/^\[ *\d+\.\d+\] /, ''));
