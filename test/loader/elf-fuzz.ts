// The ELF fuzzer: damages the fixture ELFs (header fields, program headers, sizes, offsets, section
// tables, truncation, stray bytes) and runs each one through `hypstep run` as a user would. Every
// run must end within its time bound either refused — exactly one line starting `hypstep:` and exit
// status 2 — or as a run: any other status, with every line hypstep says prefixed `hypstep:` and
// never a JavaScript stack trace. Shared by the CI sample (elf-fuzz.test.ts) and `npm run soak`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/tools.js';
import { Rng } from '../diff/rng.js';

const ROOT = repoRoot();
const CLI = join(ROOT, 'dist/src/cli/main.js');

/** Every committed fixture ELF. */
export function fixtureElfs(): { name: string; bytes: Uint8Array }[] {
  const out: { name: string; bytes: Uint8Array }[] = [];
  for (const dir of readdirSync(join(ROOT, 'fixtures'))) {
    let files: string[];
    try {
      files = readdirSync(join(ROOT, 'fixtures', dir, 'build'));
    } catch {
      continue;
    }
    for (const f of files.filter((n) => n.endsWith('.elf')).sort())
      out.push({ name: `${dir}/${f}`, bytes: readFileSync(join(ROOT, 'fixtures', dir, 'build', f)) });
  }
  return out;
}

const RAM = 0x4000_0000n;
const RAM_END = RAM + 512n * 1024n * 1024n;

/** Values that sit on the edges a loader has to get right. */
function interesting(next: () => number, fileLen: number, near: bigint): bigint {
  const picks: bigint[] = [
    0n,
    1n,
    2n,
    3n,
    4n,
    0x38n,
    0x40n,
    BigInt(fileLen),
    BigInt(fileLen) - 1n,
    BigInt(fileLen) + 1n,
    0x7fff_ffffn,
    0xffff_ffffn,
    0x1_0000_0000n,
    0x7fff_ffff_ffff_ffffn,
    0xffff_ffff_ffff_ffffn,
    BigInt(Number.MAX_SAFE_INTEGER),
    RAM,
    RAM - 4n,
    RAM_END,
    RAM_END - 4n,
    near,
    near + 1n,
    near + 2n,
    near - 4n,
    near + 0x1000n,
    near ^ (1n << BigInt(next() % 64)),
  ];
  return picks[next() % picks.length]!;
}

interface Field {
  off: number;
  size: 1 | 2 | 4 | 8;
}

function get(b: Uint8Array, f: Field): bigint {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (f.off + f.size > b.length) return 0n;
  return f.size === 8
    ? dv.getBigUint64(f.off, true)
    : BigInt(f.size === 4 ? dv.getUint32(f.off, true) : f.size === 2 ? dv.getUint16(f.off, true) : b[f.off]!);
}

function set(b: Uint8Array, f: Field, v: bigint): void {
  if (f.off + f.size > b.length) return;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const x = BigInt.asUintN(f.size * 8, v);
  if (f.size === 8) dv.setBigUint64(f.off, x, true);
  else if (f.size === 4) dv.setUint32(f.off, Number(x), true);
  else if (f.size === 2) dv.setUint16(f.off, Number(x), true);
  else b[f.off] = Number(x);
}

const EHDR: Field[] = [
  { off: 4, size: 1 }, // EI_CLASS
  { off: 5, size: 1 }, // EI_DATA
  { off: 16, size: 2 }, // e_type
  { off: 18, size: 2 }, // e_machine
  { off: 24, size: 8 }, // e_entry
  { off: 32, size: 8 }, // e_phoff
  { off: 40, size: 8 }, // e_shoff
  { off: 54, size: 2 }, // e_phentsize
  { off: 56, size: 2 }, // e_phnum
  { off: 58, size: 2 }, // e_shentsize
  { off: 60, size: 2 }, // e_shnum
  { off: 62, size: 2 }, // e_shstrndx
];
/** p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align. */
const PHDR: Field[] = [
  { off: 0, size: 4 },
  { off: 4, size: 4 },
  { off: 8, size: 8 },
  { off: 16, size: 8 },
  { off: 24, size: 8 },
  { off: 32, size: 8 },
  { off: 40, size: 8 },
  { off: 48, size: 8 },
];
/** sh_type, sh_offset, sh_size, sh_link, sh_entsize. */
const SHDR: Field[] = [
  { off: 4, size: 4 },
  { off: 24, size: 8 },
  { off: 32, size: 8 },
  { off: 40, size: 4 },
  { off: 56, size: 8 },
];

/** One damaged copy of `src` and a word on what was done to it. */
export function mutate(next: () => number, src: Uint8Array): { bytes: Uint8Array; what: string } {
  let b = Uint8Array.from(src);
  const whats: string[] = [];
  const phoff = Number(get(src, { off: 32, size: 8 }));
  const phnum = Number(get(src, { off: 56, size: 2 }));
  const shoff = Number(get(src, { off: 40, size: 8 }));
  const shnum = Number(get(src, { off: 60, size: 2 }));
  const entry = get(src, { off: 24, size: 8 });
  const rounds = 1 + (next() % 3);
  for (let r = 0; r < rounds; r++) {
    const kind = next() % 8;
    if (kind <= 1) {
      const f = EHDR[next() % EHDR.length]!;
      set(b, f, interesting(next, b.length, f.off === 24 ? entry : get(b, f)));
      whats.push(`ehdr+${f.off}`);
    } else if (kind <= 4 && phnum > 0) {
      const i = next() % phnum;
      const f = PHDR[next() % PHDR.length]!;
      const at: Field = { off: phoff + i * 56 + f.off, size: f.size };
      // Half the time aim at another segment's address, to make overlaps.
      const other = phoff + (next() % phnum) * 56 + 24;
      const near = next() % 2 ? get(b, { off: other, size: 8 }) : get(b, at);
      set(b, at, interesting(next, b.length, near));
      whats.push(`phdr${i}+${f.off}`);
    } else if (kind === 5 && shnum > 0 && shoff > 0) {
      const i = next() % shnum;
      const f = SHDR[next() % SHDR.length]!;
      const at: Field = { off: shoff + i * 64 + f.off, size: f.size };
      set(b, at, interesting(next, b.length, get(b, at)));
      whats.push(`shdr${i}+${f.off}`);
    } else if (kind === 6) {
      const n = next() % b.length;
      b = b.subarray(0, n);
      whats.push(`truncated to ${n}`);
    } else {
      for (let k = 0; k < 1 + (next() % 8); k++) b[next() % Math.min(b.length, 4096)] = next() & 0xff;
      whats.push('stray bytes');
    }
  }
  return { bytes: Uint8Array.from(b), what: whats.join(', ') };
}

export type Outcome = 'refused' | `ran (status ${number})`;

/** Runs one image through the CLI (asynchronously: a test worker must keep answering); its outcome or a throw. */
export async function runCase(path: string, timeoutMs = 20_000): Promise<Outcome> {
  const r = await new Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const p = spawn(process.execPath, [CLI, 'run', '--max-insns', '200000', path], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
      const timer = setTimeout(() => {
        p.kill('SIGKILL');
        reject(new Error(`no exit within ${timeoutMs} ms`));
      }, timeoutMs);
      p.on('error', reject);
      p.on('close', (status, signal) => {
        clearTimeout(timer);
        resolve({ status, signal, stdout, stderr });
      });
    },
  );
  if (r.status === null) throw new Error(`ended by signal ${r.signal}:\n${r.stderr.slice(0, 2000)}`);
  if (/^\s+at .*:\d+:\d+\)?$/m.test(r.stderr) || /internal error/.test(r.stderr))
    throw new Error(`status ${r.status}, a stack trace or internal error:\n${r.stderr.slice(0, 2000)}`);
  // Only hypstep's own lines count: a damaged guest may still print through semihosting.
  const ours = r.stderr.split('\n').filter((l) => l.startsWith('hypstep:'));
  if (r.status === 2 && ours.length > 0) {
    if (r.stderr.trimEnd().split('\n').length !== 1 || r.stdout !== '')
      throw new Error(`status 2 with more than one line:\n${r.stderr.slice(0, 2000)}`);
    return 'refused';
  }
  // Status 2 with no line of ours is the guest's own exit code (minihyp's FAIL is 2).
  if (r.status === 70 || r.status >= 128) throw new Error(`status ${r.status}:\n${r.stderr.slice(0, 2000)}`);
  return `ran (status ${r.status})`;
}

export interface Campaign {
  cases: number;
  outcomes: Map<string, number>;
  failures: string[];
}

/**
 * `count` damaged images from `seed`, `parallel` runs at a time; stops collecting failures after ten.
 * The images depend only on the seed. A failing image is kept in a temporary directory named in its failure.
 */
export async function campaign(
  seed: number,
  count: number,
  o: { parallel?: number; log?: (line: string) => void } = {},
): Promise<Campaign> {
  const elfs = fixtureElfs();
  const r = new Rng(seed);
  const next = (): number => r.u32();
  const dir = mkdtempSync(join(tmpdir(), 'hypstep-elf-fuzz-'));
  const c: Campaign = { cases: 0, outcomes: new Map(), failures: [] };
  let keep = false;
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < count && c.failures.length < 10) {
      const n = i++;
      const src = elfs[next() % elfs.length]!;
      const m = mutate(next, src.bytes);
      const path = join(dir, `case-${n}.elf`);
      writeFileSync(path, m.bytes);
      try {
        const outcome = await runCase(path);
        c.outcomes.set(outcome, (c.outcomes.get(outcome) ?? 0) + 1);
        rmSync(path);
      } catch (e) {
        keep = true;
        c.failures.push(`case ${n} (${src.name}: ${m.what}; kept as ${path}): ${(e as Error).message}`);
      }
      c.cases++;
      if (o.log && c.cases % 250 === 0) o.log(`${c.cases} images: ${summary(c)}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: o.parallel ?? 1 }, worker));
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  return c;
}

export function summary(c: Campaign): string {
  const parts = [...c.outcomes].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${n} ${o}`);
  return `${parts.join(', ')}; ${c.failures.length} failures`;
}
