// `layer-forensics diagnose --store S (--layer ID | --job-log FILE) --expected DIR [...] [--json | --markdown]`

import type { Argv } from 'yargs';
import { installCleanupHandlers } from '../util/cleanup.js';
import { UserError } from '../util/errors.js';
import { bootOptions, sourceOptions, toDiagnoseOptions } from './boot-options.js';
import { outputOptions, setExit } from './common.js';
import { emitReport } from './emit-report.js';
import { lastString } from './options.js';
import { stderrProgress } from './progress.js';

function builder(y: Argv) {
  return outputOptions(bootOptions(sourceOptions(y)))
    .option('layer', { type: 'string', coerce: lastString, describe: 'Layer id (or a unique prefix)' })
    .option('quiet', { type: 'boolean', describe: 'No progress on stderr' })
    .check((a) => {
      if (!a.store) throw new UserError('--store: required (qemu:/path or /path)');
      if (!a.layer && !a['job-log']) throw new UserError('give --layer ID or --job-log FILE');
      if (!a.expected) throw new UserError('--expected: required (the directory of the sources the step copied in)');
      if (a.step !== undefined && !a['job-log']) throw new UserError(`--step ${a.step}: only means something with --job-log (which copy step of the log)`);
      if (a.dst !== undefined && !a.dst.startsWith('/')) throw new UserError(`--dst ${a.dst}: must be an absolute guest path`);
      return true;
    });
}

export function diagnoseCommand<T>(y: Argv<T>) {
  return y.command('diagnose', 'One layer, no interaction: boot it (or read its disk: --via direct), extract, classify, verdict', builder, async (args) => {
    installCleanupHandlers();
    const opts = toDiagnoseOptions({ ...args, store: args.store!, expected: args.expected! });
    // Loaded when run, not when the command line is parsed: --help and other commands stay quick.
    const { runDiagnose } = await import('../diagnose/run-diagnose.js');
    const { report } = await runDiagnose(opts, { onEvent: args.quiet ? undefined : stderrProgress() });
    setExit(await emitReport(report, args));
  });
}

