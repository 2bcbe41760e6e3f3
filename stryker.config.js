// `npm run mutation`: would a wrong rule in lambdas/domain make a domain unit test fail?
// Mutants no behaviour can tell apart are listed, with the reason, in stryker-equivalent.md.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // Not vitest's "related" mode: it finds no test for these sources, and the run stops before it starts.
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: ['lambdas/domain/**/*.ts'],
  // Mutants that act only while a module loads (schemas, tables, constants) count too.
  ignoreStatic: false,
  coverageAnalysis: 'perTest',
  concurrency: 2,
  tempDirName: 'test-artifacts/stryker-tmp',
  ignorePatterns: ['/cdk.out', '/.local', '/build', '/coverage', '/test-artifacts'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  clearTextReporter: { reportTests: false, logTests: false },
  htmlReporter: { fileName: 'test-artifacts/mutation/index.html' },
  jsonReporter: { fileName: 'test-artifacts/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
};
