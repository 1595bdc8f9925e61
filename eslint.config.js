// One linter (STYLE.md): typescript-eslint's recommended rules, plus the core's purity rule.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'dist/', 'src/web/assets/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    // src/core is pure: no clock, no randomness, no I/O (STYLE.md, "A pure core").
    files: ['src/core/**/*.ts'],
    ignores: ['src/core/**/*.test.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'Date', property: 'now' }, { object: 'Math', property: 'random' }],
      'no-restricted-globals': ['error', 'fetch', 'process'],
      'no-restricted-imports': ['error', { patterns: ['pg', '@electric-sql/*', 'node:fs', 'node:net', 'node:http'] }],
    },
  },
);
