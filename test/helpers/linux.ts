// Debian's arm64 cloud kernel, fetched by `npm run setup` into fixtures/linux/cache (never committed).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBtf } from '../../src/loader/btf.js';
import { repoRoot, requireTool } from './tools.js';

/** The path of the kernel (`vmlinuz-*-cloud-arm64`); fails loudly when setup has not fetched it. */
export function debianKernel(): string {
  const dir = join(repoRoot(), 'fixtures/linux/cache/boot');
  const name = existsSync(dir) ? readdirSync(dir).find((f) => /^vmlinuz-.*-cloud-arm64$/.test(f)) : undefined;
  if (!name)
    throw new Error(`Debian's arm64 kernel is not in ${dir}: run 'npm run setup' (fetches linux-image-*-cloud-arm64)`);
  return join(dir, name);
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
