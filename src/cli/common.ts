// Options and helpers shared by the commands.

import type { Argv } from 'yargs';

export function outputOptions<T>(y: Argv<T>) {
  return y
    .option('json', { type: 'boolean', describe: 'Print exactly one JSON document on stdout' })
    .option('markdown', { type: 'boolean', describe: 'Print a Markdown report for a GitHub issue' })
    .conflicts('json', 'markdown');
}

/** Set the exit status without cutting a large stdout write short (no process.exit here). */
export function setExit(code: number): void {
  process.exitCode = code;
}
