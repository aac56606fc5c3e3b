// Debian's arm64 cloud kernel, fetched by `npm run setup` into fixtures/linux/cache (never committed).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './tools.js';

/** The path of the kernel (`vmlinuz-*-cloud-arm64`); fails loudly when setup has not fetched it. */
export function debianKernel(): string {
  const dir = join(repoRoot(), 'fixtures/linux/cache/boot');
  const name = existsSync(dir) ? readdirSync(dir).find((f) => /^vmlinuz-.*-cloud-arm64$/.test(f)) : undefined;
  if (!name)
    throw new Error(`Debian's arm64 kernel is not in ${dir}: run 'npm run setup' (fetches linux-image-*-cloud-arm64)`);
  return join(dir, name);
}
