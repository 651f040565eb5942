// `layer-forensics diagnose --store S (--layer ID | --job-log FILE) --expected DIR [...] [--json | --markdown]`

import type { Argv, CommandModule } from 'yargs';
import { runDiagnose } from '../diagnose/run-diagnose.js';
import { installCleanupHandlers } from '../vm/cleanup.js';
import { UserError } from '../util/errors.js';
import { bootOptions, toDiagnoseOptions, type BootArgs } from './boot-options.js';
import { outputOptions, setExit } from './common.js';
import { emitReport } from './emit-report.js';
import { stderrProgress } from './progress.js';

type DiagnoseArgs = BootArgs & { json?: boolean; markdown?: boolean; quiet?: boolean };

export const diagnoseCommand: CommandModule<object, DiagnoseArgs> = {
  command: 'diagnose',
  describe: 'One layer, no interaction: overlay, boot, extract, classify, verdict',
  builder: (y: Argv) =>
    outputOptions(bootOptions(y))
      .option('layer', { type: 'string', describe: 'Layer id (or a unique prefix)' })
      .option('quiet', { type: 'boolean', describe: 'No progress on stderr' })
      .check((a) => {
        if (!a.store) throw new UserError('--store: required (qemu:/path or /path)');
        if (!a.layer && !a['job-log']) throw new UserError('give --layer ID or --job-log FILE');
        if (!a.expected) throw new UserError('--expected: required (the directory of the sources the step copied in)');
        return true;
      }) as unknown as Argv<DiagnoseArgs>,
  handler: async (args) => {
    installCleanupHandlers();
    const opts = toDiagnoseOptions(args as DiagnoseArgs & { store: string; expected: string });
    const { report } = await runDiagnose(opts, { onEvent: args.quiet ? undefined : stderrProgress() });
    setExit(emitReport(report, args));
  },
};
