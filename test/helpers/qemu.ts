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

export const QEMU_ARGS = [...QEMU_BOARD, '-m', '512M', '-semihosting', '-serial', 'stdio'];

/**
 * Runs `elfPath` on qemu-system-aarch64 until it exits (semihosting or PSCI SYSTEM_OFF);
 * `extra` adds options (-smp 4).
 */
export function runQemu(elfPath: string, timeoutMs = 20_000, extra: string[] = []): QemuRun {
  requireTool('qemu-system-aarch64');
  const r = spawnSync('qemu-system-aarch64', [...QEMU_ARGS, ...extra, '-kernel', elfPath], {
    timeout: timeoutMs,
    encoding: 'latin1',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) throw new Error(`qemu failed: ${r.error.message}`);
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}
