import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', '.local/', 'coverage/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': [
        'error',
        {
          paths: ['zod', 'zod/mini', 'zod/v4'].map((name) => ({
            name,
            message: "Import lambdas/domain/zod.ts (zod/mini with zod's English messages): full zod puts about 90 KiB into every function bundle.",
          })),
        },
      ],
    },
  },
  {
    // Function bundles are minified: a name read from a class at run time is a one-letter word there.
    files: ['lambdas/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.type='MetaProperty'][property.name='name']",
          message: 'Name errors with a string literal: new.target.name is minified away in the function bundles.',
        },
        {
          selector: "MemberExpression[object.property.name='constructor'][property.name='name']",
          message: 'Name things with a string literal: constructor.name is minified away in the function bundles.',
        },
      ],
    },
  },
  {
    files: ['lambdas/domain/zod.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', process: 'readonly' } },
  },
);
