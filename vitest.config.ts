import { defineConfig } from 'vitest/config';

// Tests import the TypeScript sources directly (vitest transpiles them); the CLI tests
// run the built bin/ scripts, which is why `npm test` builds first.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Two cores: keep the e2e suites (which boot kernels) from starving each other.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
