// `layer-forensics classify --expected DIR --actual DIR [--corpus DIR]... [--block-size N] [--json|--markdown]`

import type { Argv, CommandModule } from 'yargs';
import { classifyDirectories } from '../diagnose/classify-directories.js';
import { checkBlockSize } from './boot-options.js';
import { emitReport } from './emit-report.js';
import { outputOptions, setExit } from './common.js';

interface ClassifyArgs {
  expected: string;
  actual: string;
  corpus?: string[];
  'block-size'?: number;
  json?: boolean;
  markdown?: boolean;
}

export const classifyCommand: CommandModule<object, ClassifyArgs> = {
  command: 'classify',
  describe: 'Compare an already-extracted tree against the expected sources (no QEMU)',
  builder: (y: Argv) =>
    outputOptions(y)
      .option('expected', { type: 'string', demandOption: true, describe: 'Directory of the sources the step copied in' })
      .option('actual', { type: 'string', demandOption: true, describe: 'Directory holding the files found in the layer' })
      .option('corpus', { type: 'string', array: true, describe: 'Directory whose files may be named as the origin of stale bytes (repeatable)' })
      .option('block-size', { type: 'number', describe: "Filesystem block or fragment size for regions (default 512)" }) as unknown as Argv<ClassifyArgs>,
  handler: async (args) => {
    const bs = checkBlockSize(args['block-size']);
    const report = await classifyDirectories({ expected: args.expected, actual: args.actual, corpus: args.corpus, blockSize: bs });
    setExit(emitReport(report, args));
  },
};
