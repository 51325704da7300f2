import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Separate processes: descriptor counts in one file are not disturbed by another.
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
