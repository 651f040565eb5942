// Start a worker thread on one of the tool's own modules, from the built bundle or, under tsx or
// vitest (development), from the TypeScript source through tsx's loader.
//
// `module` is a path below src/ without extension ('audit/audit-worker'). Every module sits one
// folder below src/, and every bundle file one folder below dist/ (scripts/bundle.mjs), so
// `../<module>.js` next to this file's URL finds the worker from either. A worker module may also be
// imported for its functions (on the main thread, or in another worker): it listens to its parent
// only when isWorkerOf says this thread was started for it.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread, Worker, workerData, type ResourceLimits } from 'node:worker_threads';

/** tsx's ESM loader API (a development dependency): where its package.json exports it. */
function tsxEsmApi(): string {
  const pkgFile = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(path.join(path.dirname(pkgFile), pkg.exports['./esm/api']!.import.default)).href;
}

/** Whether this thread is a worker started by spawnWorker on `module`: only then may it listen to its parent. */
export function isWorkerOf(module: string): boolean {
  return !isMainThread && (workerData as { role?: unknown } | null)?.role === module;
}

export function spawnWorker(module: string, resourceLimits: ResourceLimits): Worker {
  const options = { resourceLimits, workerData: { role: module } };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL(`../${module}.js`, import.meta.url), options);
  const src = new URL(`../${module}.ts`, import.meta.url).href;
  const code = `import(${JSON.stringify(tsxEsmApi())}).then((m) => { m.register(); return import(${JSON.stringify(src)}); });`;
  return new Worker(code, { ...options, eval: true });
}
