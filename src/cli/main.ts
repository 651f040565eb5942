// The `layer-forensics` executable: yargs commands wired to the pipeline. Any error a user can
// act on is one line on stderr and exit 2; an unexpected one too (no stack unless LF_DEBUG).

import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { classifyCommand } from './classify-command.js';
import { layersCommand } from './layers-command.js';
import { diagnoseCommand } from './diagnose-command.js';
import { inspectCommand } from './inspect-command.js';
import { auditCommand } from './audit-command.js';
import { UserError, oneLine } from '../util/errors.js';
import { escapeText } from '../report/escape.js';
import { sweepStaleRunDirs } from '../util/temp-dir.js';

/** Our version, from our package.json (src/cli/ and dist/cli/ are both two folders below it). */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

async function main(argv: string[]): Promise<void> {
  // A run killed with SIGKILL could not clean up: its temp dir (and QEMU, if still there) go now.
  sweepStaleRunDirs();
  let y = yargs(argv)
    .scriptName('layer-forensics')
    .usage('$0 <command> [options]\n\nTell whether a cached obuilder QEMU layer is corrupt, which files, what they hold instead, and why.');
  y = layersCommand(y);
  y = diagnoseCommand(y);
  y = inspectCommand(y);
  y = classifyCommand(y);
  y = auditCommand(y);
  await y
    .demandCommand(1, 'Give a command (see --help).')
    .strict()
    .help()
    .alias('h', 'help')
    .version(version())
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      // yargs' own messages are ours and may wrap over lines: one line, before escaping.
      throw err ?? new UserError(oneLine(msg));
    })
    .parseAsync();
}

main(hideBin(process.argv)).catch((err: unknown) => {
  const code = err instanceof UserError ? err.exitCode : 2;
  // Error text may carry guest bytes (tar's stderr, file names): escape it.
  process.stderr.write(`layer-forensics: ${oneLine(escapeText(err instanceof Error ? err.message : String(err)))}\n`);
  if (process.env.LF_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exitCode = code;
});
