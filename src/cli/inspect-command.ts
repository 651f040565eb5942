// `layer-forensics` / `layer-forensics inspect [LAYER]`: the interactive terminal UI (design.md
// section 6) over the same pipeline as `diagnose`. Bad input (store, layer, job log) is refused
// with one line before the screen opens; without a terminal it points to `diagnose`.

import { existsSync } from 'node:fs';
import type { Argv } from 'yargs';
import { DEFAULT_DST } from '../diagnose/types.js';
import { pickCopyStep, readJobLog } from '../store/job-log.js';
import { openStore } from '../store/store.js';
import { UserError } from '../util/errors.js';
import { bootOptions, sourceOptions, toDiagnoseOptions } from './boot-options.js';
import { lastString } from './options.js';

/** obuilder's usual store, used when --store is not given and it exists. */
export const DEFAULT_STORE = '/var/cache/obuilder';

export const NO_TTY_MESSAGE = 'inspect needs a terminal; use `layer-forensics diagnose` for scripts';

/** The commands, for the "unknown command" line. */
export const COMMAND_NAMES = ['inspect', 'layers', 'diagnose', 'classify', 'audit'];

function builder(y: Argv) {
  return bootOptions(sourceOptions(y))
    .positional('layer', { type: 'string', describe: 'Layer id or unique prefix (skips the Layers screen)' })
    .option('export-dir', { type: 'string', coerce: lastString, describe: 'Where `e` writes the JSON and Markdown reports (default: the current directory)' });
}

/**
 * `layer-forensics frobnicate` reaches the default command with "frobnicate" as the layer: a word
 * that cannot be a layer id is an unknown command, not a request for the UI.
 */
function refuseUnknownCommand(layer: unknown, named: boolean): void {
  if (named || layer === undefined) return;
  const word = String(layer);
  if (!/^[0-9a-f]{1,64}$/i.test(word)) {
    throw new UserError(`unknown command ${JSON.stringify(word)} (commands: ${COMMAND_NAMES.join(', ')}; see --help)`);
  }
}

export function inspectCommand<T>(y: Argv<T>) {
  return y.command(['inspect [layer]', '$0 [layer]'], 'The interactive terminal UI: pick a layer, watch it boot, read the verdict, open every file', builder, async (args) => {
    refuseUnknownCommand(args.layer, args._.includes('inspect'));
    if (!process.stdin.isTTY || !process.stdout.isTTY) throw new UserError(NO_TTY_MESSAGE);
    const store = args.store ?? (existsSync(DEFAULT_STORE) ? DEFAULT_STORE : undefined);
    if (!store) throw new UserError(`--store: required (qemu:/path or /path; ${DEFAULT_STORE} does not exist here)`);
    const opened = await openStore(store);

    let jobLog;
    if (args['job-log']) {
      const file = args['job-log'];
      const step = pickCopyStep(await readJobLog(file), file, args.step);
      // The job log's layer must be in this store: a log from another worker is a mistake worth one line.
      await opened.getLayer(step.layerId);
      jobLog = { file, step: args.step, layerId: step.layerId, dst: step.dst ?? DEFAULT_DST, src: step.src ?? [], copyIndex: step.copyIndex };
    } else if (args.step !== undefined) {
      throw new UserError(`--step ${args.step}: only means something with --job-log (which copy step of the log)`);
    }
    const layer = args.layer ? (await opened.getLayer(String(args.layer))).id : undefined;
    const expected = args.expected ?? process.cwd();
    const full = toDiagnoseOptions({ ...args, store, expected });
    const { layer: _l, expected: _e, dst: _d, jobLog: _j, step: _s, ...options } = full;

    // ink draws only the last frame when it believes it runs in CI; on a real terminal the user
    // wants the interactive screen, so those variables are dropped before ink is loaded.
    delete process.env.CI;
    delete process.env.CONTINUOUS_INTEGRATION;
    const { runInspect } = await import('../tui/inspect.js');
    process.exitCode = await runInspect({
      store,
      options,
      layer,
      jobLog,
      expected,
      dst: args.dst ?? jobLog?.dst ?? DEFAULT_DST,
      exportDir: args['export-dir'] ?? process.cwd(),
    });
  });
}
