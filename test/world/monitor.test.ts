// The world monitor commands through hypstep's gdb stub, driven by the RSP client, on a
// small hypervisor snippet: catch stops and their console messages, world-qualified
// breakpoints, `monitor world`, `world stats`, `vcpu layout` and `vcpu sysregs --json`.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleElf } from '../helpers/asm.js';
import { startHyp, type Hyp } from '../gdb/harness.js';
import { worldForGdb } from '../../src/world/cli.js';
import { RspClient } from '../../gdbstub/client.js';
import { parseElf } from '../../src/loader/elf.js';
import { GUEST_SNIPPET as SRC, snippetLayout } from './snippets.js';

let dir: string;
let hyp: Hyp | null = null;
let client: RspClient | null = null;

async function start(): Promise<{ c: RspClient; sym: (n: string) => bigint; layout: string }> {
  dir = mkdtempSync(join(tmpdir(), 'hypstep-world-'));
  const elf = join(dir, 'snippet.elf');
  const bytes = assembleElf(SRC);
  writeFileSync(elf, bytes);
  const image = parseElf(bytes);
  const layout = join(dir, 'layout.json');
  writeFileSync(layout, snippetLayout);
  hyp = await startHyp({ elf });
  worldForGdb(hyp.handle, null, elf);
  client = await RspClient.connect('127.0.0.1', hyp.port, { timeoutMs: 20_000 });
  const sym = (n: string) => image.symbols.find((s) => s.name === n)!.value;
  return { c: client, sym, layout };
}

afterEach(async () => {
  client?.close();
  client = null;
  await hyp?.handle.close();
  hyp = null;
});

describe('world monitor commands', () => {
  it('catch exit stops at the EL2 vector with a console message; catch entry at the guest instruction', async () => {
    const { c, sym } = await start();
    expect(await c.monitor('catch exit')).toBe('catch: exit\n');
    let mark = c.console.length;
    let stop = await c.cont();
    expect(stop.signal).toBe(5);
    expect(await c.readRegister('pc')).toBe(sym('vectors') + 0x400n);
    // The same stop as a structured event for scripts (RspClient), besides the console text.
    expect(stop.event).toEqual({
      kind: 'exit',
      number: 1,
      vmid: 7,
      vcpu: null,
      reason: 'HVC #0x42',
      category: 'hvc',
      esr: 0x5a000042,
      pc: `0x${(sym('guest') + 4n).toString(16)}`,
      pe: 0,
    });
    expect(c.console.slice(mark)).toBe(
      `[hypstep] PE0: guest exit #1 vmid 7: HVC #0x42 at 0x${(sym('guest') + 4n).toString(16)} (ESR_EL2 0x5a000042)\n`,
    );
    expect(await c.monitor('world')).toMatch(
      /^PE0: in the host: EL2, PC 0x[0-9a-f]+\nexits 1, entries 1\nlast exit: PE0: guest exit #1 vmid 7: HVC #0x42/,
    );
    expect(await c.monitor('world')).toMatch(/\nsince that exit: 0 EL2 instructions, 0 MSR\/MRS\n/); // stopped before the vector's first instruction
    await c.monitor('catch off');
    await c.monitor('catch entry');
    mark = c.console.length;
    stop = await c.cont();
    expect(stop.signal).toBe(5);
    expect(await c.readRegister('pc')).toBe(sym('guest2'));
    expect(stop.event).toMatchObject({ kind: 'entry', number: 2, vmid: 7, pe: 0 });
    expect(c.console.slice(mark)).toMatch(
      /^\[hypstep\] PE0: guest entry #2 vmid 7 at 0x[0-9a-f]+ \(ERET at 0x[0-9a-f]+\)\n$/,
    );
    expect(await c.monitor('world')).toMatch(/^PE0: in the guest: vmid 7, EL1/);
    expect(await c.monitor('world stats')).toMatch(/^exits 1, entries 2\nper exit: 1 \(5\.0 EL2 instructions/);
    await expect(c.monitor('catch bogus')).rejects.toThrow(/unknown event 'bogus'/);
  });

  it('monitor break guest: a shared function stops only in the guest, with a structured event', async () => {
    const { c, sym } = await start();
    const common = sym('common');
    expect(await c.monitor('break guest common')).toMatch(
      /^breakpoint 1 at 0x[0-9a-f]+ \(common\): stops only in the guest/,
    );
    const stop = await c.cont();
    expect(stop.signal).toBe(5);
    expect(stop.reason).toBeUndefined(); // an ordinary SIGTRAP: gdb has no breakpoint there
    expect(await c.readRegister('pc')).toBe(common);
    expect((await c.readRegister('cpsr')) & 0xcn).toBe(0x4n); // EL1: the host's call was stepped over
    expect(await c.readRegister('x7')).toBe(1n); // the host's call ran through; the guest's is about to
    expect(stop.event).toMatchObject({
      kind: 'breakpoint',
      number: 1,
      world: 'guest',
      vmid: 7,
      reason: 'guest',
      pe: 0,
    });
    expect(c.console).toMatch(/\[hypstep\] breakpoint 1 \(guest\) hit at 0x[0-9a-f]+ common in the guest vmid 7, PE0/);
    expect(await c.monitor('break')).toMatch(/^1 {2}guest\s+0x[0-9a-f]+ {2}common {2}hits 1$/m);
    await expect(c.monitor('break elsewhere common')).rejects.toThrow(/expected 'guest', 'host' or 'vmid N'/);
    await expect(c.monitor('delete 9')).rejects.toThrow(/no stub breakpoint '9'/);
    expect(await c.monitor('delete 1')).toMatch(/deleted 1/);
  });

  it('vcpu layout, vcpu sysregs (text and JSON), and catch load/put', async () => {
    const { c, sym, layout } = await start();
    await expect(c.monitor('vcpu sysregs')).rejects.toThrow(/no vcpu layout/);
    expect(await c.monitor(`vcpu layout ${layout}`)).toMatch(
      /^vcpu layout snippet: vcpu0 at 0x[0-9a-f]+; 1 sysreg slots, flags LOADED\n$/,
    );
    await c.monitor('catch load put');
    const mark = c.console.length;
    await c.cont();
    expect(c.console.slice(mark)).toMatch(/^\[hypstep\] PE0: vcpu load vcpu0: LOADED set at _start\+\d+\n$/);
    const text = await c.monitor('vcpu sysregs');
    expect(text).toMatch(/SCTLR_EL1\s+0x30d00800\s+0x30d00800\s+CPU\s+LOADED\s+in sync/);
    const rows = JSON.parse(await c.monitor('vcpu sysregs vcpu0 SCTLR_EL1 --json')) as {
      reg: string;
      authority: string;
      cpu: string;
    }[];
    expect(rows).toEqual([
      expect.objectContaining({
        reg: 'SCTLR_EL1',
        authority: 'cpu',
        cpu: '0x30d00800',
        memory: '0x30d00800',
        verdict: 'in sync',
      }),
    ]);
    await c.monitor('catch off');
    await c.monitor('check residency on');
    await c.insertBreakpoint(sym('done'));
    await c.cont();
    expect(await c.monitor('world stats')).toMatch(/loads: 1 \(3\.0 EL2 instructions/);
    // The same for scripts; the counts beside the means say what the means are over.
    const stats = JSON.parse(await c.monitor('world stats --json')) as {
      exits: number;
      perExit: { count: number; closed: number };
      byReason: Record<string, { count: number; closed: number }>;
      loads: number;
    };
    expect(stats.exits).toBe(stats.perExit.count);
    expect(Object.values(stats.byReason).reduce((n, r) => n + r.count, 0)).toBe(stats.exits);
    expect(Object.values(stats.byReason).reduce((n, r) => n + r.closed, 0)).toBe(stats.perExit.closed);
    expect(stats.loads).toBe(1);
    const state = JSON.parse(await c.monitor('world --json')) as Record<string, unknown>;
    expect(state).toMatchObject({
      world: 'host',
      el: 2,
      layout: { hypervisor: 'snippet', vcpus: [{ name: 'vcpu0', loaded: ['LOADED'] }] },
      checker: 'on',
    });
    expect(await c.monitor('check residency strict')).toBe('residency checker strict\n');
    expect(await c.monitor('world')).toMatch(/residency checker: strict\n$/);
    await expect(c.monitor('world stats --bogus')).rejects.toThrow(/unexpected '--bogus' \(only --json\)/);
    // A register's _EL12 spelling is the same register.
    expect(await c.monitor('vcpu sysregs vcpu0 SCTLR_EL12')).toMatch(/^SCTLR_EL1\s/m);
  });

  it('vcpu layout asks gdb (qSymbol) for a symbol the loaded image lacks', async () => {
    const { c, sym } = await start();
    const other = join(dir, 'other.json');
    writeFileSync(other, snippetLayout.replace('"symbol":"vcpu"', '"symbol":"my_vcpu"'));
    await expect(c.monitor(`vcpu layout ${other}`)).rejects.toThrow(
      /my_vcpu not in the loaded image; asked gdb for it/,
    );
    // A device is not a layout: refused at once (it used to be read until memory ran out; the RSP fuzzer found it).
    await expect(c.monitor('vcpu layout /dev/zero')).rejects.toThrow(/not a regular file/);
    const hexName = Buffer.from('my_vcpu').toString('hex');
    // What gdb does after loading symbols: offer to look symbols up, answer the stub's request.
    expect(await c.request('qSymbol::')).toBe(`qSymbol:${hexName}`);
    expect(await c.request(`qSymbol:${sym('vcpu').toString(16)}:${hexName}`)).toBe('OK');
    expect(await c.monitor(`vcpu layout ${other}`)).toMatch(/^vcpu layout snippet: vcpu0 at 0x[0-9a-f]+;/);
  });
});
