// ESLint flat config. Type-aware rules from typescript-eslint, run through the project service (one TypeScript program
// for the whole workspace, from tsconfig.json). Formatting is Prettier's job, so no stylistic rules here.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // Generated or not ours: the OpenAPI types are written by `pnpm lms openapi`, data/ holds PGlite's files.
    ignores: ['**/node_modules/', '**/dist/', 'data/', '**/data/', 'clients/openapi.d.ts', 'coverage/', '**/*.d.ts'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
      parserOptions: {
        // Every .ts file is in tsconfig.json's include; plain JavaScript is linted without types (below).
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // A `!` is a type that forgot something: narrow, or make the type say it.
      '@typescript-eslint/no-non-null-assertion': 'error',
      // A promise nobody awaits loses its error; write `void p` when fire-and-forget is meant.
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true }],
      // An async callback where a void one is expected (event emitters, setInterval, array.forEach) drops its rejection.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // `import { type X }` for types; `import('zod').input<…>` in a type position stays allowed.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      // `Kysely<any>` / `Transaction<any>` is Kysely's own idiom for schema-agnostic code (migrations, the outbox, event
      // consumers); the no-unsafe-* rules below catch `any` flowing into values, which is what matters.
      '@typescript-eslint/no-explicit-any': 'off',
      // tus answers a thrown `{ status_code, body }` as the HTTP response (its documented hook contract).
      '@typescript-eslint/only-throw-error': ['error', { allow: [{ from: 'file', name: 'TusRefusal', path: 'services/gateway/src/files-http.ts' }] }],
      // Dropping `async` from a function that throws turns a rejection into a synchronous throw: not worth the risk for style.
      '@typescript-eslint/require-await': 'off',
      'no-console': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'prefer-const': 'error',
    },
  },
  {
    // The web app runs in browsers (its own tsconfig: DOM, JSX, bundler resolution; the project service finds it).
    files: ['clients/web/src/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // Tests read HTTP and JSON bodies as `any` and let the assertion fail on a wrong shape; typing every response would add
    // noise, not safety. Non-null assertions and floating promises stay errors here too.
    files: ['**/test/**', 'tools/test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Plain JavaScript is not type-checked by tsc; keep the type-aware rules off it.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
