// Runs an image on QEMU's virt board, the reference we compare against.
import { spawnSync } from 'node:child_process';
import { requireTool } from './tools.js';

export interface QemuRun {
  stdout: string;
  stderr: string;
  status: number | null;
}

/** The board every comparison runs on. No NIC: its option ROM is a package the tests do not need. */
export const QEMU_BOARD = [
  '-M',
  'virt,virtualization=on',
  '-cpu',
  'max',
  '-nic',
  'none',
  '-nographic',
  '-monitor',
  'none',
];

/** The same board with the GICv3 hypstep has (QEMU's virt defaults to a GICv2). */
export const QEMU_GIC_BOARD = QEMU_BOARD.map((a) => (a === 'virt,virtualization=on' ? `${a},gic-version=3` : a));

/**
 * Where timing matters: QEMU's counter ticks once per instruction, as hypstep's does
 * (62.5 MHz, 16 ns an instruction), and an idle PE jumps to the next timer deadline instead
 * of sleeping in real time.
 */
export const QEMU_ICOUNT = ['-icount', 'shift=4,sleep=off'];

const QEMU_RUN = ['-m', '512M', '-semihosting', '-serial', 'stdio'];
export const QEMU_ARGS = [...QEMU_BOARD, ...QEMU_RUN];

/**
 * Runs `elfPath` on qemu-system-aarch64 until it exits (semihosting or PSCI SYSTEM_OFF);
 * `extra` adds options (-smp 4); `board` is QEMU_BOARD or QEMU_GIC_BOARD.
 */
export function runQemu(elfPath: string, timeoutMs = 20_000, extra: string[] = [], board = QEMU_BOARD): QemuRun {
  requireTool('qemu-system-aarch64');
  const r = spawnSync('qemu-system-aarch64', [...board, ...QEMU_RUN, ...extra, '-kernel', elfPath], {
    timeout: timeoutMs,
    encoding: 'latin1',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) throw new Error(`qemu failed: ${r.error.message}`);
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}
