// The README's first screen must stay true: `npm start`'s table is the one the code prints.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const ROOT = new URL('../../', import.meta.url).pathname;

describe('README', () => {
  it('shows the demo table exactly as `npm start` (hypstep demo) prints it', () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe('node dist/src/cli/main.js demo');
    const r = spawnSync('node', ['dist/src/cli/main.js', 'demo'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    const table = r.stdout.split('\n\n')[0]!.trimEnd();
    expect(table.split('\n')).toHaveLength(11); // header and ten modes
    const readme = readFileSync(`${ROOT}README.md`, 'utf8');
    expect(readme).toContain('```\n' + table + '\n```');
    // And the demo's reading of it, every figure from the same run.
    const reading = r.stdout.split('\n\n')[1]!.trimEnd();
    expect(reading).toMatch(/stops paying below [\d.]+ exits per put/);
    expect(readme).toContain('```\n' + reading + '\n```');
  });

  it('keeps the two commands on its first screen', () => {
    const first = readFileSync(`${ROOT}README.md`, 'utf8').split('\n').slice(0, 24).join('\n');
    expect(first).toContain('npm ci && npm start');
    expect(first).toContain('npm run setup && npm test');
    // CI runs the same two steps, with the type check and lint of the whole tree between them.
    const ci = readFileSync(`${ROOT}.ci/run`, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('npm '));
    expect(ci).toEqual(['npm run setup', 'npm run typecheck', 'npm run lint', 'npm test']);
  });
});
