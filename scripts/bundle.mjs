// Builds dist/ from src/ with esbuild: the CLI, the audit's worker thread and the classification
// entry the classify benchmark loads, each at dist/<folder>/<name>.js, their shared code in
// dist/chunks/. Why a bundle rather than tsc's one file per module: a `diagnose --via direct`
// loaded about 200 modules, and resolving, reading and compiling them one by one cost about 0.2 s
// of a 0.7 s run (docs/benchmarks.md). Every output file sits one folder below dist/, as the
// modules sit one below src/, so a `new URL('../audit/audit-worker.js', import.meta.url)` finds
// the worker from src/ and from dist/ alike. Type checking stays with tsc (`npm run build` runs it first).

import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * string-width (yargs' help layout, which yargs renders for every command it runs; ink's layout)
 * builds an Intl.Segmenter and Unicode-property regular expressions when it is loaded: about 55 ms
 * of every run here. Each import of it (each installed version) becomes a function that answers
 * printable ASCII itself (one column a character, what string-width returns for it) and loads the
 * real module on the first other text; esbuild runs a require()d module's body only then.
 */
const deferStringWidth = {
  name: 'defer-string-width',
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, async (args) => {
      if (args.pluginData === 'real') return undefined;
      const real = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'real' });
      if (real.errors.length) return { errors: real.errors };
      return { path: real.path, namespace: 'deferred' };
    });
    b.onLoad({ filter: /.*/, namespace: 'deferred' }, (args) => ({
      resolveDir: root,
      contents: [
        'let width;',
        'export default function stringWidth(text, options) {',
        "  if (typeof text === 'string' && /^[\\x20-\\x7e]*$/.test(text)) return text.length;",
        `  width ??= require(${JSON.stringify(args.path)}).default;`,
        '  return width(text, options);',
        '}',
        '',
      ].join('\n'),
    }));
  },
};

await rm(`${root}/dist`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts', 'src/audit/audit-worker.ts', 'src/classify/scan-worker.ts', 'src/diagnose/classify-directories.ts'],
  outbase: 'src',
  outdir: 'dist',
  entryNames: '[dir]/[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // A native addon, found in node_modules at run time; ink's devtools load only with DEV=true,
  // and react-devtools-core is not installed (as before bundling).
  external: ['better-sqlite3', 'react-devtools-core'],
  // Packages written as CommonJS call require(); an ES module has none unless it is made.
  banner: { js: "import { createRequire as __lfCreateRequire } from 'node:module'; const require = __lfCreateRequire(import.meta.url);" },
  plugins: [deferStringWidth],
  sourcemap: 'linked',
  logLevel: 'warning',
});
