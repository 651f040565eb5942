// The `layer-forensics` executable: yargs commands wired to the pipeline. Any error a user can
// act on is one line on stderr and exit 2; an unexpected one too (no stack unless LF_DEBUG).

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { classifyCommand } from './classify-command.js';
import { layersCommand } from './layers-command.js';
import { diagnoseCommand } from './diagnose-command.js';
import { inspectCommand } from './inspect-command.js';
import { UserError, oneLine } from '../util/errors.js';
import { escapeText } from '../report/escape.js';

const REPEATABLE = new Set(['_', 'corpus', 'corpus-guest', 'corpusGuest']);

async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('layer-forensics')
    // A flag given twice takes its last value; only the repeatable options collect.
    .middleware((argv) => {
      for (const [k, v] of Object.entries(argv)) {
        if (Array.isArray(v) && !REPEATABLE.has(k)) argv[k] = v.at(-1);
      }
    }, true)
    .usage('$0 <command> [options]\n\nTell whether a cached obuilder QEMU layer is corrupt, which files, what they hold instead, and why.')
    .command(layersCommand)
    .command(diagnoseCommand)
    .command(inspectCommand)
    .command(classifyCommand)
    .demandCommand(1, 'Give a command (see --help).')
    .strict()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      throw err ?? new UserError(msg);
    })
    .parseAsync();
}

main(hideBin(process.argv)).catch((err: unknown) => {
  const code = err instanceof UserError ? err.exitCode : 2;
  // Error text may carry guest bytes (tar's stderr, file names): escape it.
  process.stderr.write(`layer-forensics: ${escapeText(oneLine(err))}\n`);
  if (process.env.LF_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exitCode = code;
});
