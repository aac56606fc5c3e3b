// gdb-multiarch end to end against `hypstep run -S --gdb` on a snippet whose EL2 code and
// whose guest (VMID 7) both call `common`: the stub's world-qualified breakpoints, set in any
// order before one `continue`, stop only in their world; a breakpoint condition gdb sends as
// agent-expression bytecode stops only when true, evaluated in the emulator.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleElf } from '../helpers/asm.js';
import { requireTool } from '../helpers/tools.js';
import { GUEST_SNIPPET } from '../world/snippets.js';
import { buildCli, CLI, freePort, gdbBatch } from './harness.js';

let elf: string;
const procs: ChildProcess[] = [];

beforeAll(() => {
  requireTool('gdb-multiarch');
  buildCli();
  elf = join(mkdtempSync(join(tmpdir(), 'hypstep-wbp-')), 'snippet.elf');
  writeFileSync(elf, assembleElf(GUEST_SNIPPET));
}, 60_000);
afterAll(() => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
});

/** `hypstep run -S --gdb` on the snippet, then gdb with `lines`; hypstep's stderr and gdb's output. */
async function session(lines: string[]): Promise<{ out: string; hypstep: string }> {
  const port = await freePort();
  const p = spawn(process.execPath, [CLI, 'run', '-m', '64M', '-S', '--gdb', `127.0.0.1:${port}`, elf], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  procs.push(p);
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  for (let i = 0; !err.includes('gdb stub on'); i++) {
    if (i > 500) throw new Error(`hypstep did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const g = await gdbBatch({ port, file: elf, lines: [...lines, 'kill'] });
  await new Promise((r) => (p.exitCode === null ? p.on('exit', r) : r(null)));
  return { out: g.out, hypstep: err };
}

const AT_GUEST_COMMON = [
  /\[hypstep\] breakpoint \d+ \(guest\) hit at 0x[0-9a-f]+ common in the guest vmid 7, PE0/,
  /Program received signal SIGTRAP/,
  /\$1 = 1\n\$2 = 1\n/, // x7: the host's call went by; EL1
];

describe('world-qualified breakpoints (monitor break)', () => {
  it.each([
    ['host first', ['host guest', 'vmid 8 common', 'guest common', 'vmid 7 guest2']],
    ['guest first', ['vmid 7 guest2', 'guest common', 'vmid 8 common', 'host guest']],
  ])(
    'set %s before one continue: each stops only in its world',
    async (_order, bps) => {
      const { out } = await session([
        ...bps.map((b) => `monitor break ${b}`),
        'continue',
        'p $x7',
        'p ($cpsr >> 2) & 3',
        'continue',
        'p/x $pc == guest2',
        'monitor break',
      ]);
      for (const re of AT_GUEST_COMMON) expect(out).toMatch(re);
      expect(out).toMatch(/\[hypstep\] breakpoint \d+ \(vmid 7\) hit at 0x[0-9a-f]+ guest2 in the guest vmid 7, PE0/);
      expect(out).toMatch(/\$3 = 0x1/);
      // Hit counts: the host-only breakpoint on guest code and the wrong VMID never stopped.
      expect(out).toMatch(/^\d+ {2}host\s+0x[0-9a-f]+ {2}guest {2}hits 0$/m);
      expect(out).toMatch(/^\d+ {2}vmid 8\s+0x[0-9a-f]+ {2}common {2}hits 0$/m);
      expect(out).toMatch(/^\d+ {2}guest\s+0x[0-9a-f]+ {2}common {2}hits 1$/m);
      expect(out).not.toMatch(/Remote failure|Protocol error|internal-error/);
    },
    60_000,
  );

  it('a failing monitor command is an error for gdb (and for Python gdb.execute)', async () => {
    const { out } = await session([
      'monitor break nowhere common',
      'python\ntry:\n  gdb.execute("monitor break guest no_such_symbol")\nexcept gdb.error as e:\n  print("RAISED", e)\nend',
    ]);
    expect(out).toMatch(/expected 'guest', 'host' or 'vmid N' before the location/);
    expect(out).toMatch(/no symbol 'no_such_symbol'/);
    expect(out).toMatch(/RAISED Protocol error with Rcmd/);
  }, 60_000);
});

describe('target-side breakpoint conditions', () => {
  /**
   * `break *common if <cond>` evaluated by the target, then one continue: gdb must send the
   * condition as bytecode with Z0 and get exactly one stop reply — the host's call (x7 == 0)
   * never reaches it — at `common` in the guest (EL1) with x7 == 1.
   */
  it.each([
    ['a register comparison', '$x7 == 1'],
    // x20 = vcpu, whose first slot holds SCTLR_EL1 (0x30d00800); && compiles to jumps, the load to ref64.
    ['memory, && and arithmetic', '*(long *)$x20 == 0x30d00800 && $x7 > 0 && ($x7 * 3) % 2 == 1'],
  ])(
    '%s stops only when true, with no stop reply for the false hit',
    async (_what, cond) => {
      const { out } = await session([
        'set breakpoint condition-evaluation target',
        `break *common if ${cond}`, // at the first instruction (gdb's `break common` would skip the add)
        'set debug remote 1',
        'continue',
        'set debug remote 0',
        'p $x7',
        'p ($cpsr >> 2) & 3',
      ]);
      expect(out).toMatch(/Sending packet: \$Z0,[0-9a-f]+,4;X[0-9a-f]+,[0-9a-f]+/);
      expect(out.match(/Packet received: T05/g)).toHaveLength(1);
      expect(out).toMatch(/Breakpoint 1, /);
      expect(out).toMatch(/Packet received: T05[^\n]*;20:5c00084000000000;21:c5030000;/); // at common, EL1
      expect(out).toMatch(/\$1 = 1\n\$2 = 1\n/);
    },
    60_000,
  );
});
