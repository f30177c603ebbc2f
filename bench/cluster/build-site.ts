/**
 * Bundles site.ts (with the bench helpers it imports, not the packages under test: those it loads from
 * their `dist` at run time) into one ES module that plain `node` runs. A site process then pays for
 * nothing of the benchmark's tooling: no tsx loader thread, no on-the-fly compilation, no esbuild
 * `__name()` wrappers — its CPU and RSS are Ackord's. esbuild comes with tsx (a devDependency already).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface EsbuildLike {
  build(options: Record<string, unknown>): Promise<{ errors: readonly unknown[] }>;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** Writes the bundle to `outFile` and returns it. */
export async function buildSite(outFile: string): Promise<string> {
  const fromTsx = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'));
  const esbuild = fromTsx('esbuild') as EsbuildLike;
  await esbuild.build({
    entryPoints: [path.join(here, 'site.ts')],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  return outFile;
}
