import { defineConfig } from 'vitest/config';

// Tests run from source: the "@ackord/source" export condition points each workspace package at its
// src/ entry, so `pnpm test` works on a fresh clone without a build.
export default defineConfig({
  resolve: { conditions: ['@ackord/source'] },
  ssr: { resolve: { conditions: ['@ackord/source'] } },
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'core', include: ['packages/core/test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'transport-tcp', include: ['packages/transport-tcp/test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'transport-ws', include: ['packages/transport-ws/test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'election', include: ['packages/election/test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'examples', include: ['examples/*/test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'integration', include: ['test/**/*.test.ts'], testTimeout: 60_000 },
      },
    ],
    testTimeout: 20_000,
  },
});
