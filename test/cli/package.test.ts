// The package as a user installs it: `npm pack` of the tree, `npm install -g` of the tarball into a
// temporary prefix, and the installed `hypstep` run from outside the repository.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/tools.js';
import { run, runOk } from '../helpers/run.js';

const ROOT = repoRoot();
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  scripts: Record<string, string>;
};

let tmp: string;
let tarball: string;
let bin: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hypstep-pkg-'));
  // dist/ is built by `npm test`'s pretest; packing with scripts would rebuild it under the running suite.
  await runOk('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', tmp], { cwd: ROOT });
  tarball = join(tmp, `hypstep-${pkg.version}.tgz`);
  const prefix = join(tmp, 'prefix');
  await runOk('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball], {
    cwd: tmp,
  });
  bin = join(prefix, 'bin', 'hypstep');
}, 360_000);

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function installed(args: string[]) {
  return run(bin, args, { cwd: tmp });
}

describe('the package', () => {
  it('holds the built program, the fixtures hypstep demo runs, the README and the LICENSE, and nothing else', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    expect(files).toContain('package/dist/src/cli/main.js');
    expect(files).toContain('package/LICENSE');
    expect(files).toContain('package/fixtures/minihyp/vcpu-layout.json');
    const outside = files.filter(
      (f) =>
        !/^package\/(dist\/(src|gdbstub)\/|fixtures\/(minihyp|hello)\/|(README\.md|LICENSE|package\.json)$)/.test(f),
    );
    expect(outside).toEqual([]);
    expect(files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toBe(false);
    // A tarball packed from a fresh clone (no dist/ yet) builds itself first, as does a git-URL install.
    expect(pkg.scripts.prepare).toBe('npm run --silent build');
  });

  it('opens its README with what works once installed', () => {
    const readme = execFileSync('tar', ['-xzOf', tarball, 'package/README.md'], { encoding: 'utf8' });
    const first = readme.split('\n').slice(0, 24).join('\n');
    expect(first).toMatch(/npm install -g/);
    expect(first).toMatch(/hypstep demo/);
  });

  it('installs a working hypstep: --version, run on the hello fixture, demo', async () => {
    const v = await installed(['--version']);
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toBe(pkg.version);

    const hello = await installed(['run', join(ROOT, 'fixtures/hello/build/hello.elf')]);
    expect(hello.stderr).toBe('');
    expect(hello.stdout).toBe('Hello from hypstep: running at EL2\n');
    expect(hello.status).toBe(0);

    // The installed demo finds its minihyp builds inside the package and prints the table the repository's does.
    const demo = await installed(['demo']);
    expect(demo.status).toBe(0);
    const table = demo.stdout.split('\n\n')[0]!.trim().split('\n');
    expect(table[0]).toMatch(/^mode +exits/);
    expect(table.slice(1).map((l) => l.split(/ +/)[0])).toEqual([
      'vhe-eager',
      'vhe-deferred',
      'nvhe',
      'nvhe-deferred32',
      'bug-stale-read',
      'bug-lost-write',
      'bug-missing-load',
      'vhe-lazy-fp',
      'nvhe-lazy-fp',
      'bug-fp-partial-put',
    ]);
    const repo = await run(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'demo']);
    expect(demo.stdout).toBe(repo.stdout);
  }, 600_000);
});
