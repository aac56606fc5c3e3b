// fixtures/debug on QEMU and on hypstep: software step, each kind of hardware breakpoint and
// watchpoint, BRK, MDCR_EL2 routing and traps give the same transcript on both; the OS lock,
// which QEMU 7.2 ignores, is held against the ARM ARM. Runs with compiled code forced on and
// off (vitest.config.ts), and each fixture makes a loop hot before arming a debug event in it.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseElf } from '../../src/loader/elf.js';
import { runQemu } from '../helpers/qemu.js';
import { runHypstep } from '../helpers/hypstep.js';
import { rebuildDiffers } from '../helpers/rebuild.js';
import { repoRoot } from '../helpers/tools.js';

const elf = (name: string) => join(repoRoot(), 'fixtures', 'debug', 'build', `${name}.elf`);
/** A symbol of a fixture, plus `offset`, as 16 hex digits, as the fixtures print addresses. */
const sym = (name: string, symbol: string, offset = 0n) =>
  (parseElf(readFileSync(elf(name)), name).symbols.find((s) => s.name === symbol)!.value + offset)
    .toString(16)
    .padStart(16, '0');

/** ESR as the ARM ARM lays it out (EC[31:26], IL[25], ISS), as the fixtures print it. */
const esr = (ec: number, iss: number) => (((ec << 26) | (1 << 25) | iss) >>> 0).toString(16).padStart(16, '0');
/** The ISS of a debug exception reported like an abort: the fault status "debug event" (0x22). */
const DEBUG = 0x22;
const ISV = 1 << 24,
  EX = 1 << 6,
  WNR = 1 << 6;

describe('fixtures/debug: the same transcript on QEMU and on hypstep', () => {
  for (const name of ['step', 'breakpoint', 'watchpoint', 'routing']) {
    it(name, () => {
      const q = runQemu(elf(name));
      expect(q.status).toBe(0);
      const h = runHypstep(elf(name));
      expect(h.stop).toBe('exit');
      expect(h.stdout).toBe(q.stdout);
      expect(h.stdout).toMatch(/done\n$/);
    });
  }

  it('say what they test (as QEMU printed them)', () => {
    const step = runHypstep(elf('step')).stdout;
    // A: each EL1 instruction stepped, to EL2; a load-exclusive with EX; the SVC handler entered active-pending
    expect(step).toContain(`EL2 ${esr(0x32, ISV | DEBUG)} `);
    expect(step).toContain(`EL2 ${esr(0x32, ISV | EX | DEBUG)} `);
    expect(step).toContain(`EL2 ${esr(0x32, DEBUG)} ${sym('step', 'vectors_el1', 0x200n)} `); // EL1's vector
    // C: the ERET stepped into EL0 completes at EL0's first instruction (SPSR: EL0t)
    expect(step).toMatch(new RegExp(`C: .*\\nEL2 ${esr(0x32, ISV | DEBUG)} [0-9a-f]{16} 00000000000001c0\\n`));
    // E: at the same EL, first active-pending (no ISV), then stepped
    expect(step).toMatch(new RegExp(`E: .*\\nEL1 ${esr(0x33, DEBUG)} .*\\nEL1 ${esr(0x33, ISV | DEBUG)} `));
    // H: an SMC to the PSCI firmware completes its step as if it went to EL3 and back: no ISV after it
    expect(step).toMatch(new RegExp(`H: .*\\n(EL2 ${esr(0x32, ISV | DEBUG)} .*\\n){4}EL2 ${esr(0x32, DEBUG)} `));
    expect(step).toMatch(/F: .*\ndone\n$/);

    const bp = runHypstep(elf('breakpoint')).stdout;
    expect(bp).toContain('dfr0 comparators 0000000010305000\n'); // CTX_CMPs 1, WRPs 3, BRPs 5
    expect(bp.match(new RegExp(`EL1 ${esr(0x31, DEBUG)} `, 'g'))).toHaveLength(7); // A: six, E: the linked pair
    expect(bp).toMatch(/B: .*\ndbgbcr0 0000000000000003\ndbgbcr0 00000000000001e3\n/); // no hit in B
    expect(bp).toMatch(new RegExp(`C: .*\\nEL1 ${esr(0x30, DEBUG)} [0-9a-f]{16} 00000000000001c0\\nD:`));
    expect(bp).toMatch(new RegExp(`D: .*\\nEL2 ${esr(0x31, DEBUG)} .*\\nEL2 ${esr(0x30, DEBUG)} .*\\nE:`));
    expect(bp).toContain(`EL2 ${esr(0x3c, 0x78)} `); // BRK under TDE

    const wp = runHypstep(elf('watchpoint')).stdout;
    expect(wp).toContain(`EL2 ${esr(0x35, DEBUG)} 0000000040080064 00000000000001c9 far 0000000040084010\n`);
    expect(wp).toContain(`EL2 ${esr(0x35, WNR | DEBUG)} 000000004008009c 00000000000001c9 far 0000000040084017\n`);
    expect(wp).toContain(' far 0000000040084042\n'); // BAS 0b1100 under a doubleword load
    expect(wp).toContain(' far 00000000400840b8\n'); // MASK 6: 64 bytes
    expect(wp).toMatch(
      new RegExp(`E: .*\\nEL1 ${esr(0x35, DEBUG)} [0-9a-f]{16} 00000000000001c5 far 0000000040084010\\n`),
    ); // LDTR
    expect(wp).toContain(`EL1 ${esr(0x34, DEBUG)} `); // EL0's load

    const routing = runHypstep(elf('routing')).stdout;
    expect(routing).toMatch(new RegExp(`A: .*\\n(EL2 ${esr(0x18, 0).slice(0, 10)}.*\\n){8}B:`)); // eight traps
    expect(routing).toMatch(new RegExp(`C: .*\\nEL2 ${esr(0x30, DEBUG)} [0-9a-f]{16} 00000000000001c0\\n`));
  });

  it('oslock: the OS lock stops breakpoints, watchpoints and step (QEMU 7.2 lets them fire)', () => {
    const h = runHypstep(elf('oslock'));
    expect(h.stop).toBe('exit');
    // Locked: only the BRK; unlocking makes the step active-pending, then it steps one instruction.
    expect(h.stdout).toBe(
      [
        'oslsr at reset 000000000000000a',
        'OS lock set: no breakpoint, watchpoint or step at EL1',
        `EL1 ${esr(0x3c, 1)} 00000000400800a4 00000000000001c5`,
        `EL1 ${esr(0x33, DEBUG)} 00000000400800ac 00000000000001c5`,
        `EL1 ${esr(0x33, ISV | DEBUG)} 00000000400800b0 00000000000001c5`,
        'oslsr 0000000000000008',
        `EL1 ${esr(0x31, DEBUG)} 0000000040080114 00000000000001c5`,
        `EL1 ${esr(0x35, DEBUG)} 000000004008012c 00000000000001c5 far ${sym('oslock', 'word')}`,
        'done',
        '',
      ].join('\n'),
    );
    // QEMU's AArch64 GenerateDebugExceptions has no OS lock test: the breakpoint fires while locked.
    const q = runQemu(elf('oslock'));
    expect(q.stdout).toContain(
      `OS lock set: no breakpoint, watchpoint or step at EL1\nEL1 ${esr(0x31, DEBUG)} 00000000400800a0 00000000002001c5\n`,
    );
    expect(q.stdout).toContain(`EL1 ${esr(0x35, DEBUG)} 000000004008014c `); // and the watchpoint, locked again
  });

  it('context: the context-aware breakpoints match by CONTEXTIDR and VMID (QEMU 7.2 only the linked CONTEXTIDR kinds)', () => {
    const h = runHypstep(elf('context'));
    expect(h.stop).toBe('exit');
    const hit = `EL1 ${esr(0x31, DEBUG)} [0-9a-f]{16} 00000000000001c5\\n`;
    expect(h.stdout).toMatch(new RegExp(`^A: .*\\n${hit}B: .*\\n${hit}C: .*\\n${hit}D: .*\\n${hit}done\\n$`));
    // QEMU logs the unlinked kinds as unimplemented, links to a VMID match never, and compares
    // CONTEXTIDR_EL2 with DBGBVR[31:0] rather than [63:32]: not one hit.
    const q = runQemu(elf('context'));
    expect(q.status).toBe(0);
    expect(q.stdout).toBe(
      [
        'A: unlinked CONTEXTIDR_EL1 0x55',
        'B: unlinked VMID 3',
        'C: an address linked to VMID 3',
        'D: an address linked to CONTEXTIDR_EL2 0x66',
        'done',
        '',
      ].join('\n'),
    );
  });

  it('rebuild byte for byte from a copy of the sources at another absolute path', async () => {
    expect(await rebuildDiffers('debug')).toEqual([]);
  });
});
