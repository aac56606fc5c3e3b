// The README's "A first session", run as written: its shell lines through the CLI and its (gdb) lines
// through gdb-multiarch. The expectations are the README's own lines, so a change in what hypstep or
// gdb prints fails here until the README shows it.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/tools.js';
import { gdbBatch, spawnStub } from '../helpers/stub.js';

const ROOT = repoRoot();
const CLI = join(ROOT, 'dist/src/cli/main.js');

interface Session {
  /** Shell commands (continuations joined) with what their comment says they print. */
  shell: { argv: string[]; prints?: string }[];
  /** The gdb-multiarch command line's image. */
  elf: string;
  /** Each (gdb) command with the lines the README shows under it. */
  gdb: { command: string; shows: string[] }[];
}

function readSession(): Session {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## A first session'));
  const blocks = [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)];
  const sh = blocks[0]![2]!
    .replace(/\\\n\s*/g, '')
    .trimEnd()
    .split('\n');
  const shell = sh.map((line) => {
    const [cmd, comment] = line.split(/\s+# /);
    const argv = cmd!.trim().split(/\s+/);
    return { argv, prints: /^prints "(.*)"$/.exec(comment ?? '')?.[1] };
  });
  const lines = blocks[1]![2]!.trimEnd().split('\n');
  const start = /^\$ gdb-multiarch -ex 'target remote :1234' (\S+)$/.exec(lines[0]!);
  if (start === null) throw new Error(`the session's gdb block does not start with its gdb command: ${lines[0]}`);
  const gdb: Session['gdb'] = [];
  for (const l of lines.slice(1)) {
    if (l.startsWith('(gdb) ')) gdb.push({ command: l.slice(6), shows: [] });
    else gdb.at(-1)!.shows.push(l);
  }
  return { shell, elf: start[1]!, gdb };
}

/** `npx hypstep …` as the clone's built CLI; `-s` on a free port rather than 1234. */
function cliArgs(argv: string[]): string[] {
  expect(argv.slice(0, 2)).toEqual(['npx', 'hypstep']);
  return argv.slice(2).flatMap((a) => (a === '-s' ? ['--gdb', '127.0.0.1:0'] : [a]));
}

describe("the README's first session", () => {
  const session = readSession();

  it('reads as two shell commands and a gdb session', () => {
    expect(session.shell).toHaveLength(2);
    expect(session.gdb.length).toBeGreaterThanOrEqual(6);
    expect(session.gdb.filter((g) => g.shows.length > 0).length).toBeGreaterThanOrEqual(6);
  });

  it('runs the hello fixture and prints what the comment says', () => {
    const { argv, prints } = session.shell[0]!;
    expect(prints).toBeDefined();
    const r = spawnSync(process.execPath, [CLI, ...cliArgs(argv)], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout).toBe(`${prints}\n`);
    expect(r.status).toBe(0);
  });

  it('prints every line it shows under each gdb command', async () => {
    const hyp = await spawnStub(cliArgs(session.shell[1]!.argv));
    try {
      const args = ['-ex', `target remote 127.0.0.1:${hyp.port}`];
      session.gdb.forEach((g, i) => args.push('-ex', `echo @@${i}\\n`, '-ex', g.command));
      args.push('-ex', `echo @@end\\n`, session.elf);
      const out = (await gdbBatch(args)).stdout;
      session.gdb.forEach((cmd, i) => {
        const from = out.indexOf(`@@${i}\n`);
        const to = out.indexOf(i + 1 < session.gdb.length ? `@@${i + 1}\n` : '@@end\n');
        expect(from, out).toBeGreaterThanOrEqual(0);
        const printed = out
          .slice(from, to)
          .split('\n')
          .map((l) => l.trimEnd());
        // Each shown line is printed, in the order shown.
        let at = 0;
        for (const line of cmd.shows) {
          const k = printed.indexOf(line.trimEnd(), at);
          expect(k, `'(gdb) ${cmd.command}' did not print '${line}':\n${printed.join('\n')}`).toBeGreaterThanOrEqual(0);
          at = k + 1;
        }
      });
    } finally {
      await hyp.close();
    }
  }, 300_000);
});
