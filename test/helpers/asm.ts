// Assembles AArch64 source with the real GNU assembler and runs it on hypstep in-process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseElf, type Image } from '../../src/loader/elf.js';
import { Machine } from '../../src/board/machine.js';
import { repoRoot, requireTool } from './tools.js';

export const LOAD_ADDR = 0x4008_0000;
/** fixtures/include, from the source tree or from dist/ (the soak campaigns run there). */
const INCLUDE = join(repoRoot(), 'fixtures', 'include');

/**
 * A whole program: the board's constants and macros (fixtures/include/virt.inc: UART_BASE,
 * movq, UART_HEX, SEMIHOSTING_EXIT, ...), then `body` from `_start`, the entry point.
 */
export function program(body: string): string {
  return `#include "virt.inc"\n\t.text\n\t.global _start\n_start:\n${body}`;
}

/** Assembles and links `source` (text at `textAddr`) into an ELF; returns its bytes. */
export function assembleElf(source: string, textAddr = LOAD_ADDR): Uint8Array {
  requireTool('aarch64-linux-gnu-gcc');
  const dir = mkdtempSync(join(tmpdir(), 'hypstep-asm-'));
  try {
    writeFileSync(join(dir, 's.S'), source);
    execFileSync('aarch64-linux-gnu-gcc', ['-c', '-I', INCLUDE, '-o', join(dir, 's.o'), join(dir, 's.S')], {
      stdio: 'pipe',
    });
    execFileSync(
      'aarch64-linux-gnu-ld',
      [
        '-nostdlib',
        '-static',
        '--build-id=none',
        `-Ttext=0x${textAddr.toString(16)}`,
        '-e',
        '_start',
        '-o',
        join(dir, 's.elf'),
        join(dir, 's.o'),
      ],
      { stdio: 'pipe' },
    );
    return readFileSync(join(dir, 's.elf'));
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new Error(`assembly failed:\n${err.stderr?.toString() ?? String(e)}\n--- source ---\n${source}`, {
      cause: e,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Assembles `source` into an ELF file in a fresh temporary directory, gives `use` its path, then removes it. */
export function withElf<T>(source: string, use: (elfPath: string) => T, textAddr = LOAD_ADDR): T {
  const bytes = assembleElf(source, textAddr);
  const dir = mkdtempSync(join(tmpdir(), 'hypstep-elf-'));
  try {
    const elf = join(dir, 'program.elf');
    writeFileSync(elf, bytes);
    return use(elf);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function assemble(source: string, textAddr = LOAD_ADDR): Image {
  return parseElf(assembleElf(source, textAddr));
}

/** Encodes single instructions: returns the 32-bit words the assembler produced, in order. */
export function encode(lines: string[]): number[] {
  const img = assemble(`.text\n.global _start\n_start:\n${lines.join('\n')}\n`);
  const seg = img.segments.find((s) => img.entry >= s.vaddr && img.entry < s.vaddr + BigInt(s.data.length))!;
  const start = Number(img.entry - seg.vaddr);
  const dv = new DataView(seg.data.buffer, seg.data.byteOffset + start, seg.data.byteLength - start);
  return lines.map((_, i) => dv.getUint32(i * 4, true));
}

export interface SnippetRun {
  machine: Machine;
  uart: string;
  /** Why the run stopped: 'end' when the snippet reached its end. */
  stop: string;
}

/**
 * Runs `body` at EL2 (as the board resets) until it reaches the end of the snippet.
 * The snippet may define its own labels and data; `__end` marks the stop.
 */
export function runSnippet(body: string, budget = 1_000_000): SnippetRun {
  const image = assemble(program(`${body}\n__end:\n\tb __end\n`));
  let uart = '';
  const machine = new Machine({
    memory: 64 * 1024 * 1024,
    uartOut: (b) => {
      uart += Buffer.from(b).toString('latin1');
    },
  });
  machine.load(image);
  const end = image.symbols.find((s) => s.name === '__end')!.value;
  machine.cpu.debug.breakpoints.add(end);
  const r = machine.run(budget);
  const stop =
    r.kind === 'breakpoint' && r.pc === end
      ? 'end'
      : r.kind === 'unimplemented'
        ? `unimplemented: ${r.message}`
        : r.kind;
  return { machine, uart, stop };
}
