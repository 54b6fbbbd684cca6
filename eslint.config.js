import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Layers of DESIGN.md: each directory may import only the layers listed before it.
const layerRules = (forbidden) => ({
  'no-restricted-imports': ['error', { patterns: forbidden.map((group) => ({ group: [group], message: 'DESIGN.md layering: no upward imports.' })) }],
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/results/', 'docs/api/', 'tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Named exports only.' },
      ],
    },
  },
  {
    // CommonJS consumers of the package (test/package/require.cjs).
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { console: 'readonly', process: 'readonly', require: 'readonly', Reflect: 'readonly' } },
  },
  {
    // Benchmark helpers in plain JavaScript (run in worker threads and child processes over dist/).
    files: ['**/*.mjs'],
    languageOptions: {
      globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly', URL: 'readonly', performance: 'readonly', setInterval: 'readonly', clearInterval: 'readonly' },
    },
  },
  {
    files: ['lib/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Named exports only.' },
        { selector: "NewExpression[callee.name='Error']", message: 'Throw a PkiError with a stable code.' },
        { selector: "CallExpression[callee.object.name='console']", message: 'The library does not log.' },
      ],
    },
  },
  {
    // The command is the one place that prints.
    files: ['lib/cli.ts', 'lib/cli/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Named exports only.' },
        { selector: "NewExpression[callee.name='Error']", message: 'Throw a PkiError with a stable code.' },
      ],
    },
  },
  { files: ['lib/errors.ts'], rules: layerRules(['./*', '../*']) },
  { files: ['lib/workers/**/*.ts'], rules: layerRules(['../crypto/*', '../x509/*', '../cluster/*', '../bootstrap/*', '../agents/*', '../cli*', '../cli/*', '../index*']) },
  { files: ['lib/crypto/**/*.ts'], rules: layerRules(['../x509/*', '../cluster/*', '../cli*', '../index*']) },
  { files: ['lib/x509/**/*.ts'], rules: layerRules(['../cluster/*', '../cli*', '../index*']) },
  
  { files: ['lib/cluster/**/*.ts'], rules: layerRules(['../bootstrap/*', '../agents/*', '../cli*', '../cli/*', '../index*']) },
  { files: ['lib/bootstrap/**/*.ts'], rules: layerRules(['../agents/*', '../cli*', '../cli/*', '../index*']) },
  { files: ['lib/agents/**/*.ts'], rules: layerRules(['../cli*', '../cli/*', '../index*']) },
  { files: ['lib/cli/**/*.ts'], rules: layerRules(['../index*', '../cli.js']) },
  {
    files: ['lib/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            // Development-only oracles: the tests import @peculiar/x509 through test/helpers/peculiar.ts.
            { name: '@peculiar/x509', message: 'A devDependency (the tests\' oracle): the package encodes with its own DER writer.' },
            { name: 'reflect-metadata', message: 'A devDependency: the package installs no global Reflect polyfill.' },
            { name: 'asn1js', message: 'Not a dependency: parse with lib/crypto/der.ts.' },
            // Optional peer dependencies are loaded on demand: only their types are imported statically.
            { name: '@kubernetes/client-node', allowTypeImports: true, message: 'An optional peer dependency: load it with loadClientNode().' },
            { name: 'node-webcrypto-p11', allowTypeImports: true, message: 'An optional peer dependency: load it on demand.' },
            { name: 'undici', allowTypeImports: true, message: 'An optional peer dependency: load it on demand (undiciClasses in lib/agents/tls.ts).' },
          ],
        },
      ],
    },
  },
);
