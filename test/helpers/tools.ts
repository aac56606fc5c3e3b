// External tools the tests compare against. A missing tool fails the test loudly: never a silent skip.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const found = new Map<string, boolean>();

export function requireTool(name: string): string {
  let ok = found.get(name);
  if (ok === undefined) {
    try {
      execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
      ok = true;
    } catch {
      ok = false;
    }
    found.set(name, ok);
  }
  if (!ok)
    throw new Error(
      `required tool '${name}' is not installed: run 'npm run setup' (installs the Debian packages the tests need)`,
    );
  return name;
}

/** The repository root (the folder with package.json above this file), from the source tree or from dist/. */
export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('cannot find the repository root');
    d = up;
  }
  return d;
}
