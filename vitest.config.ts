import { defineConfig } from 'vitest/config';

/**
 * One suite runner for unit, infra and e2e tests. Each test file runs in its own process, so
 * every e2e file boots its own local Herald (handlers read their environment once, as in Lambda).
 * Under CI a JSON report is written too; .ci/run prints its totals.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: process.env.CI ? { json: 'test-results/vitest.json' } : undefined,
  },
});
