// Run the terminal UI full-screen (the alternate screen) over the real store and pipeline, and
// turn how it ended into the exit status.

import { render } from 'ink';
import { runDiagnose } from '../diagnose/run-diagnose.js';
import { exitCodeFor } from '../report/exit-codes.js';
import { escapeText } from '../report/escape.js';
import { openStore } from '../store/store.js';
import { installCleanupHandlers, runAllCleanups } from '../util/cleanup.js';
import { App, type Outcome, type TuiDeps, type TuiInit } from './app.js';
import { auditDeps } from './audit-deps.js';
import { exportReports, type Exported } from './export.js';
import { colourFromEnv } from './theme.js';

const ENTER_ALT = '\x1b[?1049h\x1b[H\x1b[2J';
const LEAVE_ALT = '\x1b[?1049l';

export interface InspectStreams {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/**
 * The real pipeline, store and audit behind the UI. A direct run's files stay readable for the
 * File screen after the run: each read opens the image again for itself (extract/direct).
 */
function realDeps(init: TuiInit, exported: Exported[]): TuiDeps {
  return {
    listLayers: async () => (await openStore(init.store)).listLayers(),
    run: (opts, ctl) => runDiagnose(opts, ctl),
    exportReports: async (report, dir) => {
      const x = await exportReports(report, dir);
      exported.push(x);
      return x;
    },
    cleanup: async () => {
      await runAllCleanups();
    },
    ...auditDeps(init.store),
  };
}

/** Open the UI; resolves with the exit status once it has closed and everything is cleaned up. */
export async function runInspect(init: TuiInit, io: InspectStreams = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  installCleanupHandlers();
  const exported: Exported[] = [];
  const deps = realDeps(init, exported);
  let outcome: Outcome = { kind: 'quit' };
  let inAlt = true;
  const leave = () => {
    if (inAlt) {
      inAlt = false;
      io.stdout.write(LEAVE_ALT);
    }
  };
  // Whatever ends the process (a signal handled by the cleanup registry), the screen comes back.
  process.once('exit', leave);
  io.stdout.write(ENTER_ALT);
  try {
    const instance = render(<App deps={deps} init={init} colour={colourFromEnv()} onExit={(o) => (outcome = o)} />, {
      stdin: io.stdin,
      stdout: io.stdout,
      stderr: io.stderr,
      exitOnCtrlC: false,
      patchConsole: true,
      maxFps: 20,
    });
    await instance.waitUntilExit();
  } finally {
    await runAllCleanups().catch(() => {});
    leave();
    process.removeListener('exit', leave);
  }

  // What the user saw, in a few lines that stay on the terminal.
  for (const x of exported) io.stderr.write(`layer-forensics: report written to ${escapeText(x.json)} and ${escapeText(x.markdown)}\n`);
  const o = outcome as Outcome;
  switch (o.kind) {
    case 'verdict':
      io.stderr.write(`layer-forensics: verdict ${o.verdict}\n`);
      return exitCodeFor(o.verdict);
    case 'failed':
      io.stderr.write(`layer-forensics: ${escapeText(o.reason)}\n`);
      return 2;
    case 'interrupted':
      return 130;
    case 'quit':
      return 0;
  }
}
