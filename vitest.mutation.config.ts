import { defineConfig } from 'vitest/config';

// The domain's unit tests for `npm run mutation`: without the global setup (function bundles and the
// synthesized stack), which none of them needs and every Stryker test runner would otherwise pay for.
export default defineConfig({
  test: {
    include: ['test/unit/domain/**/*.test.ts'],
  },
});
