// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/**
 * Imports a layer may not make (docs/architecture.md, "Layers"): arrows point down only,
 * {http, mcp} → services → {events, tasks} → store → domain, and nothing imports http but
 * app.ts and plugins; the runner (agent/) reaches the service through client/ only. memory/ is a
 * feature module with its own use cases, beside the services: services/ does not reach into it,
 * and plugins/ and app.ts put it together with the rest.
 */
const forbidden = (...layers) => ({
  patterns: layers.map((layer) => ({
    regex: `^(\\.\\./)+${layer}(/|\\.js$)`,
    message: `This layer may not import ${layer} (docs/architecture.md, "Layers").`,
  })),
});

const layers = [
  [
    'src/domain/**',
    [
      'http',
      'plugins',
      'services',
      'store',
      'events',
      'memory',
      'tasks',
      'client',
      'mcp',
      'agent',
      'config',
      'app',
    ],
  ],
  [
    'src/store/**',
    ['http', 'plugins', 'services', 'events', 'memory', 'tasks', 'client', 'mcp', 'agent', 'app'],
  ],
  [
    'src/events/**',
    ['http', 'plugins', 'services', 'memory', 'tasks', 'client', 'mcp', 'agent', 'app'],
  ],
  [
    'src/memory/**',
    ['http', 'plugins', 'services', 'events', 'tasks', 'client', 'mcp', 'agent', 'app'],
  ],
  [
    'src/tasks/**',
    ['http', 'plugins', 'services', 'events', 'memory', 'client', 'mcp', 'agent', 'app'],
  ],
  ['src/services/**', ['http', 'plugins', 'memory', 'client', 'mcp', 'agent', 'app']],
  [
    'src/http/**',
    ['plugins', 'store', 'events', 'memory', 'tasks', 'client', 'mcp', 'agent', 'app'],
  ],
  // MCP is a second front door beside http/: tools call services only (docs/agents.md).
  [
    'src/mcp/**',
    ['http', 'plugins', 'store', 'events', 'memory', 'tasks', 'client', 'agent', 'config', 'app'],
  ],
  [
    'src/client/**',
    [
      'http',
      'plugins',
      'services',
      'store',
      'events',
      'memory',
      'tasks',
      'mcp',
      'agent',
      'config',
      'app',
    ],
  ],
  // The runner talks to the service over HTTP, like any other client.
  [
    'src/agent/**',
    ['http', 'plugins', 'services', 'store', 'events', 'memory', 'tasks', 'mcp', 'config', 'app'],
  ],
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'coverage/',
      'reports/',
      '.stryker-tmp*/',
      'packages/client/dist/',
      '**/*.mjs',
      '**/*.cjs',
      '**/*.d.mts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // Fastify plugins and handlers are async by contract, awaited or not.
      '@typescript-eslint/require-await': 'off',
      // A closure may read a binding that is assigned once, later (the Fastify factory's handlers).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    // Tests and benchmarks read untyped JSON answers (`response.json()`) all the time.
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      // `expect(fake.method).toHaveBeenCalled()` passes a method without calling it, on purpose.
      '@typescript-eslint/unbound-method': 'off',
      // `String(data)` of a ws message is its text: RawData is a Buffer, never a plain object.
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
  ...layers.map(([files, banned]) => ({
    files: [files],
    rules: { 'no-restricted-imports': ['error', forbidden(...banned)] },
  })),
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
  prettier,
  {
    // Prettier wraps code at 100 characters but leaves comments alone: this holds them to it too.
    // Strings (test names, SQL), imports and Stryker's one-line directives may run longer.
    rules: {
      'max-len': [
        'error',
        {
          code: 100,
          ignoreStrings: true,
          ignoreTemplateLiterals: true,
          ignoreRegExpLiterals: true,
          ignoreUrls: true,
          ignorePattern: '^\\s*(import|export) |(Stryker|eslint)-?\\s?disable',
        },
      ],
    },
  },
);
