// The scripted sessions of fixtures/sessions, run as a user would: gdb-multiarch in batch mode
// (and the TypeScript RSP-client session) against hypstep's stub with the world layer on.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Machine } from '../../src/board/machine.js';
import { parseElf } from '../../src/loader/elf.js';
import { startGdbServer, type GdbHandle } from '../../src/debug/gdb.js';
import { worldForGdb } from '../../src/world/cli.js';
import { minihypElf, MINIHYP_DIR } from '../../src/world/demo.js';
import { gdbBatch } from '../helpers/stub.js';
import { worldSession } from '../../fixtures/sessions/world-session.js';

const SESSIONS = new URL('../../fixtures/sessions/', import.meta.url).pathname;

interface Stub {
  handle: GdbHandle;
  machine: Machine;
  port: number;
}

/** `hypstep run -S -s <minihyp-mode.elf>` in-process (the board's default RAM, as the CLI gives). */
async function withStub<T>(mode: string, body: (hyp: Stub, elf: string) => Promise<T>): Promise<T> {
  const elf = minihypElf(mode);
  const machine = new Machine({ uartOut: () => {}, consoleOut: () => {} });
  machine.load(parseElf(readFileSync(elf), elf));
  const handle = await startGdbServer(machine, {
    port: 0,
    waitForDebugger: true,
    notice: () => {},
    setup: (h) => {
      worldForGdb(h, null, elf);
    },
  });
  try {
    return await body({ handle, machine, port: handle.port }, elf);
  } finally {
    await handle.close();
  }
}

async function gdb(script: string, elf: string, port: number): Promise<string> {
  return (await gdbBatch(['-ex', `target remote 127.0.0.1:${port}`, '-x', join(SESSIONS, script), elf], 240_000))
    .stdout;
}

const hex = (s: string) => BigInt(s);

describe('scripted gdb-multiarch sessions', () => {
  it.each(['vhe-deferred', 'nvhe'])(
    'catch-pcs.gdb on %s: an exit stops at the EL2 vector, an entry at the first guest instruction',
    async (mode) => {
      const out = await withStub(mode, (hyp, elf) => gdb('catch-pcs.gdb', elf, hyp.port));
      const exit = /SESSION exit stop: pc (0x[0-9a-f]+) vector (0x[0-9a-f]+) EL (\d)/.exec(out);
      expect(exit, out).not.toBeNull();
      expect(hex(exit![1]!)).toBe(hex(exit![2]!));
      expect(exit![3]).toBe('2');
      const entry = /SESSION entry stop: pc (0x[0-9a-f]+) elr_el2 (0x[0-9a-f]+) EL (\d)/.exec(out);
      expect(entry, out).not.toBeNull();
      expect(hex(entry![1]!)).toBe(hex(entry![2]!));
      expect(entry![3]).toBe('1');
      expect(out).toMatch(/\[hypstep\] PE0: guest exit #1 vmid 1: HVC #0x0 at 0x[0-9a-f]+ \(ESR_EL2 0x5a000000\)/);
      expect(out).toMatch(/\[hypstep\] PE0: guest entry #\d+ vmid \d+/);
      expect(out).toMatch(/in the (guest|host)/);
    },
  );

  it('first-exit.gdb: residency at the first exit, in vcpu_put, and after it', async () => {
    const out = await withStub('vhe-deferred', (hyp, elf) => gdb('first-exit.gdb', elf, hyp.port));
    expect(out).toMatch(/\[hypstep\] PE0: guest exit #1/);
    const at = /SESSION stopped at pc (0x[0-9a-f]+), EL2 vector for a lower EL is (0x[0-9a-f]+)/.exec(out);
    expect(at, out).not.toBeNull();
    expect(hex(at![1]!)).toBe(hex(at![2]!));
    // While the guest's registers are loaded the CPU is live; after vcpu_put the context is.
    const [atExit, inPut, afterPut] = out.split(/SESSION (?:in vcpu_put|vcpu_put returned)/);
    expect(atExit).toMatch(/SCTLR_EL1\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+CPU\s+SYSREGS_LOADED/);
    expect(inPut).toMatch(/SCTLR_EL1\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+CPU\s+SYSREGS_LOADED/);
    expect(afterPut).toMatch(/SCTLR_EL1\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+memory\s+SYSREGS_LOADED/);
    expect(afterPut).toMatch(/per exit: \d+/);
  });

  it('find-stale-read.gdb: the checker stops on the stale read in bug-stale-read, at its source line', async () => {
    const out = await withStub('bug-stale-read', (hyp, elf) => gdb('find-stale-read.gdb', elf, hyp.port));
    // The message names the instruction by symbol and line, from the ELF's symbols and DWARF line table.
    const hz =
      /\[hypstep\] PE0: residency hazard: stale-read of [A-Z0-9_]+ \(vcpu\d\) at (handle_hvc\+\d+) \(host\.c:(\d+)\)/.exec(
        out,
      );
    expect(hz, out).not.toBeNull();
    // The stop is right after the load that read the slot: gdb's `info line *($pc - 4)` names the same line and symbol.
    expect(out).toMatch(
      new RegExp(`Line ${hz![2]} of "hyp/host\\.c" starts at address 0x[0-9a-f]+ <${hz![1]!.replace('+', '\\+')}>`),
    );
    expect(out).toMatch(/SCTLR_EL1\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+CPU\s+SYSREGS_LOADED\s+CPU live, memory stale/);
  });
});

describe('TypeScript RSP-client session', () => {
  it('world-session.ts: first exit, residency as JSON, registers saved by vcpu_put', async () => {
    const lines = await withStub('vhe-deferred', (hyp) =>
      worldSession('127.0.0.1', hyp.port, hyp.machine.symbol('vcpu_put')!, join(MINIHYP_DIR, 'vcpu-layout.json')),
    );
    expect(lines[0]).toMatch(/vcpu layout minihyp mode vhe-deferred/);
    expect(lines[1]).toMatch(/stop: signal 5; \[hypstep\] PE0: guest exit #1/);
    expect(lines[2]).toMatch(/live on the CPU at the exit: .*SCTLR_EL1/);
    expect(lines[3]).toMatch(/saved to memory by vcpu_put: .*SCTLR_EL1=0x/);
  });
});
