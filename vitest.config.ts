import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real servers (redis-server, s3rver, the lake); forks keep them isolated.
    pool: 'forks',
    maxWorkers: 2,
  },
});
