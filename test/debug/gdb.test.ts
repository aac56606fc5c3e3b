// gdb-multiarch's breakpoints and the guest's own hardware breakpoints at once: the stub's
// breakpoint stops before the guest's breakpoint exception is taken, and continuing takes it,
// as QEMU orders them (its gdb breakpoints are handled first). Neither disturbs the other:
// the guest prints what it prints without a debugger.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { startHyp, type Hyp } from '../gdb/harness.js';
import { parseElf } from '../../src/loader/elf.js';
import { runHypstep } from '../helpers/hypstep.js';
import { repoRoot } from '../helpers/tools.js';
import { gdbBatch } from '../helpers/stub.js';

const ELF = join(repoRoot(), 'fixtures', 'debug', 'build', 'breakpoint.elf');
const dir = mkdtempSync(join(tmpdir(), 'hypstep-debug-gdb-'));
let hyp: Hyp | null = null;
const HOT_ADD = `0x${parseElf(readFileSync(ELF), ELF)
  .symbols.find((s) => s.name === 'hot_add')!
  .value.toString(16)}`;

afterEach(async () => {
  await hyp?.handle.close();
  hyp = null;
});

/** Runs gdb-multiarch -batch on the fixture with `lines` after connecting; its output. */
async function gdb(port: number, lines: string[]): Promise<{ out: string; code: number | null }> {
  const script = join(dir, 'session.gdb');
  writeFileSync(
    script,
    ['set pagination off', 'set confirm off', `file ${ELF}`, `target remote 127.0.0.1:${port}`, ...lines, ''].join(
      '\n',
    ),
  );
  const r = await gdbBatch(['-x', script], 60_000);
  return { out: r.stdout, code: r.status };
}

describe('the gdb stub while the guest debugs itself', () => {
  it("a gdb breakpoint where the guest's hardware breakpoint is armed stops first; continuing takes the guest's", async () => {
    hyp = await startHyp({ elf: ELF });
    const { out, code } = await gdb(hyp.port, [
      'break armed_call',
      'continue',
      'p/x $mdscr_el1',
      'p/x $dbgbcr3_el1',
      'delete',
      'break hot_add',
      'break handler_el2',
      'continue',
      'echo @gdb-bp\\n',
      'p/x $pc',
      'p/x $x2',
      'continue',
      'echo @guest-bp\\n',
      'p/x $esr_el2',
      'p/x $elr_el2',
      'delete',
      'continue',
    ]);
    expect(code, out).toBe(0);
    expect(out).toMatch(/Breakpoint 1, armed_call \(\)/);
    expect(out).toMatch(/\$1 = 0xa000\n\$2 = 0x21e3\n/); // MDE|KDE; E, EL1, BAS, HMC
    expect(out).toMatch(/Breakpoint 2, hot_add \(\)/);
    expect(out).toContain(`@gdb-bp\n$3 = ${HOT_ADD}\n$4 = 0x0\n`); // before the guest's exception
    expect(out).toMatch(/Breakpoint 3, 0x[0-9a-f]+ in handler_el2 \(\)/);
    expect(out).toContain(`@guest-bp\n$5 = 0xc6000022\n$6 = ${HOT_ADD}\n`); // its breakpoint exception, at EL2
    expect(out).toMatch(/exited normally/);
    expect(out).not.toMatch(/Remote failure|Protocol error|internal-error/);
    await new Promise((r) => setTimeout(r, 100));
    expect(hyp.uart()).toBe(runHypstep(ELF).stdout); // the same transcript as without a debugger
  });
});
