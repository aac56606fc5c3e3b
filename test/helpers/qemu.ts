// Runs an image on QEMU's virt board, the reference we compare against.
import { spawnSync } from 'node:child_process';
import { requireTool } from './tools.js';

export interface QemuRun { stdout: string; stderr: string; status: number | null }

export const QEMU_ARGS = ['-M', 'virt,virtualization=on', '-cpu', 'max', '-m', '512M', '-nographic', '-semihosting',
  '-monitor', 'none', '-serial', 'stdio'];

/** Runs `elfPath` on qemu-system-aarch64 until it exits (semihosting or PSCI SYSTEM_OFF). */
export function runQemu(elfPath: string, timeoutMs = 20_000): QemuRun {
  requireTool('qemu-system-aarch64');
  const r = spawnSync('qemu-system-aarch64', [...QEMU_ARGS, '-kernel', elfPath], {
    timeout: timeoutMs, encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) throw new Error(`qemu failed: ${r.error.message}`);
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}
