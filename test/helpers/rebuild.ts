// Fixture builds are reproducible: a directory of fixtures rebuilt by make in a copy of the
// fixtures tree at another absolute path gives the committed files byte for byte.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, requireTool } from './tools.js';

/** Rebuilds fixtures/`dir` in a copy and returns the committed files of its build/ that differ (or are missing). */
export async function rebuildDiffers(dir: string): Promise<string[]> {
  requireTool('make');
  requireTool('aarch64-linux-gnu-gcc');
  const fixtures = join(repoRoot(), 'fixtures');
  const tmp = mkdtempSync(join(tmpdir(), 'hypstep-rebuild-'));
  try {
    const copy = join(tmp, 'elsewhere', 'fixtures');
    for (const f of ['common.mk', 'programs.mk', 'runtime.mk', 'include'])
      cpSync(join(fixtures, f), join(copy, f), { recursive: true });
    const build = join(fixtures, dir, 'build');
    cpSync(join(fixtures, dir), join(copy, dir), { recursive: true, filter: (src) => !src.startsWith(build) });
    await promisify(execFile)('make', ['-C', join(copy, dir)]);
    return readdirSync(build).filter((f) => {
      try {
        return !readFileSync(join(copy, dir, 'build', f)).equals(readFileSync(join(build, f)));
      } catch {
        return true;
      }
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
