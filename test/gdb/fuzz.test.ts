// A short, bounded sample of the RSP fuzzer (test/soak/rsp.soak.ts; `npm run soak` runs the
// full campaign): a fresh seed each run, printed on failure so it can be replayed.
import { it, expect, beforeAll } from 'vitest';
import { fuzzRsp } from '../soak/rsp.soak.js';
import { requireTool } from '../helpers/tools.js';
import { buildCli } from './harness.js';

beforeAll(() => {
  requireTool('gdb-multiarch');
  buildCli();
}, 60_000);

it('survives 1500 hostile packets: every reply well-formed, no hang, no crash, gdb still works', async () => {
  const seed = Number(process.env.HYPSTEP_FUZZ_SEED ?? Date.now() % 1_000_000);
  const r = await fuzzRsp({ packets: 1500, seed });
  const why = `seed ${seed} (HYPSTEP_FUZZ_SEED=${seed} npx vitest run test/gdb/fuzz.test.ts replays it)`;
  expect(r.badReplies, why).toEqual([]);
  expect(r.hangs, why).toBe(0);
  expect(r.crashes, why).toBe(0);
  expect(r.packets).toBeGreaterThanOrEqual(1500);
  expect(r.gdbAfterwards, why).toMatch(/Breakpoint 1, .*vcpu_put/);
  expect(r.gdbAfterwards, why).not.toMatch(/Remote failure|Protocol error|internal-error/);
}, 240_000);
