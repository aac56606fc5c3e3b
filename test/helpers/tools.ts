// External tools the tests compare against. A missing tool fails the test loudly: never a silent skip.
import { execFileSync } from 'node:child_process';

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
  if (!ok) throw new Error(`required tool '${name}' is not installed: run 'npm run setup' (installs the Debian packages the tests need)`);
  return name;
}
