export { default } from './test/lint/eslint.config.mjs';
