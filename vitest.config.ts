import { defineConfig } from 'vitest/config';

/**
 * One suite runner for unit, infra and e2e tests. Each test file runs in its own process, so
 * every e2e file boots its own local Herald (handlers read their environment once, as in Lambda).
 * Unit and infra files run first, two at a time: they hold no timers against a clock. The e2e
 * files run after them one at a time: many measure publish→receive times or wait out a schedule,
 * and a second file competing for the machine's two cores makes those figures lie.
 * Under CI a JSON report is written too; .ci/run prints its totals.
 */
export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: process.env.CI ? { json: 'test-results/vitest.json' } : undefined,
    projects: [
      { extends: true, test: { name: 'unit+infra', include: ['test/unit/**/*.test.ts', 'test/infra/**/*.test.ts'], maxWorkers: 2, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
