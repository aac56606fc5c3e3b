// ESLint for the whole tree. It lives here, beside its own package.json, because typescript-eslint
// reads types with the TypeScript 5.x installed in this workspace while the project builds with
// TypeScript 7 (see the README's "Checks"). The repository's eslint.config.mjs re-exports it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Signals thrown through the run loop that are deliberately not Errors: constructing an Error
 * captures a stack trace, which a guest's page fault or trapped MSR should not pay for.
 */
const SIGNALS = [
  { from: 'file', name: 'ArchException', path: 'src/pe/exception.ts' },
  { from: 'file', name: 'MachineStop', path: 'src/pe/exception.ts' },
  { from: 'file', name: 'BusError', path: 'src/board/bus.ts' },
  { from: 'file', name: 'WatchStop', path: 'src/cpu/debug-port.ts' },
];

export default tseslint.config(
  { ignores: ['dist/', '**/node_modules/', 'fixtures/**/build/', 'fixtures/**/obj/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: root } },
    rules: {
      '@typescript-eslint/only-throw-error': ['error', { allow: SIGNALS }],
      // An implementation that ignores a parameter of its interface names it _like_this.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // Generator scripts and this configuration: plain Node.js modules, outside the TypeScript project.
    files: ['**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        performance: 'readonly',
      },
    },
  },
  prettier,
  {
    // Prettier wraps code at 120 columns but cannot break a comment: hold comments to the same width
    // (eslint-config-prettier turns max-len off, so it comes after it).
    rules: {
      'max-len': [
        'error',
        { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
    },
  },
);
