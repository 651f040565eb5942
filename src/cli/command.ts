// A command of the CLI: its options (a yargs builder) and what runs it. main.ts gives yargs the
// builders only and runs the chosen command itself once the line is parsed and checked: for a
// command it runs itself, yargs first renders that command's whole help text (kept in case the
// handler fails later), about 50 ms of every start and never shown.

import type { ArgumentsCamelCase, Argv } from 'yargs';

export interface CliCommand<U> {
  /** yargs' command string(s): 'layers', or ['inspect [layer]', '$0 [layer]'] for the default one. */
  command: string | readonly string[];
  describe: string;
  builder: (y: Argv) => Argv<U>;
  run: (args: ArgumentsCamelCase<U>) => Promise<void>;
}

/** A command, its run's arguments typed by its builder. */
export function defineCommand<U>(c: CliCommand<U>): CliCommand<U> {
  return c;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command's own argument type
type AnyCommand = CliCommand<any>;

/** Every command's options and checks, without a handler (see above). */
export function registerCommands<T>(y: Argv<T>, commands: readonly AnyCommand[]): Argv<T> {
  for (const c of commands) y = y.command(c.command as string | string[], c.describe, c.builder);
  return y;
}

/** The words a command answers to: 'layers' for 'layers', '$0' for a default command. */
function names(c: AnyCommand): string[] {
  return (typeof c.command === 'string' ? [c.command] : [...c.command]).map((s) => s.split(' ')[0]!);
}

/** Run the command the parsed line names (its first word), else the default command. */
export async function runChosen(commands: readonly AnyCommand[], argv: ArgumentsCamelCase): Promise<void> {
  const word = argv._[0];
  const chosen = commands.find((c) => names(c).includes(word === undefined ? '$0' : String(word)));
  // Not reached: strict() has refused an unknown command and demandCommand() a missing one.
  if (!chosen) throw new Error(`no command for ${JSON.stringify(word)}`);
  await chosen.run(argv);
}
