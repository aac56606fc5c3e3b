import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The tests whose results must not depend on compiled code: they run twice, with the trace
 * compiler forced on for everything (HYPSTEP_JIT=always) and off. Everything else runs once in
 * the default mode.
 */
const BOTH_MODES = ['test/diff', 'test/exceptions', 'test/unit', 'test/mmu', 'test/smp', 'test/gdb', 'test/debug'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'default',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...BOTH_MODES.map((d) => `${d}/**`)],
        },
      },
      ...['always', 'off'].map((mode) => ({
        extends: true as const,
        test: {
          name: `jit-${mode}`,
          include: BOTH_MODES.map((d) => `${d}/**/*.test.ts`),
          env: { HYPSTEP_JIT: mode },
        },
      })),
    ],
  },
});
