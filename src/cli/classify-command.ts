// `layer-forensics classify --expected DIR --actual DIR [--corpus DIR]... [--block-size N] [--json|--markdown]`

import type { Argv } from 'yargs';
import { emitReport } from './emit-report.js';
import { outputOptions, setExit } from './common.js';
import { blockSizeOption, lastString } from './options.js';

function builder(y: Argv) {
  return outputOptions(y)
    .option('expected', { type: 'string', coerce: lastString, demandOption: true, describe: 'Directory of the sources the step copied in' })
    .option('actual', { type: 'string', coerce: lastString, demandOption: true, describe: 'Directory holding the files found in the layer' })
    .option('corpus', { type: 'string', array: true, describe: 'Directory whose files may be named as the origin of stale bytes (repeatable)' })
    .option('block-size', { type: 'string', coerce: blockSizeOption, describe: 'Filesystem block or fragment size for regions (default 512)' });
}

export function classifyCommand<T>(y: Argv<T>) {
  return y.command('classify', 'Compare an already-extracted tree against the expected sources (no QEMU)', builder, async (args) => {
    const { classifyDirectories } = await import('../diagnose/classify-directories.js');
    const report = await classifyDirectories({ expected: args.expected, actual: args.actual, corpus: args.corpus, blockSize: args['block-size'] });
    setExit(await emitReport(report, args));
  });
}
