// Progress of a diagnose run on stderr, one line per event worth telling: the same events the
// terminal UI draws. Guest console lines are not printed (they are in the console log).

import type { DiagnoseEvent } from '../diagnose/types.js';
import { escapeText } from '../report/escape.js';

export function stderrProgress(write: (s: string) => void = (s) => process.stderr.write(s)): (e: DiagnoseEvent) => void {
  let lastSshLine = 0;
  return (e) => {
    switch (e.type) {
      case 'step-start':
        write(`layer-forensics: ${e.step}...${e.info ? ` (${escapeText(e.info)})` : ''}\n`);
        break;
      case 'step-done':
        write(`layer-forensics: ${e.step} done in ${e.ms} ms${e.info ? `: ${escapeText(e.info)}` : ''}\n`);
        break;
      case 'step-fail':
        // The error that ends the run is printed once, by the command; a step that fails and is
        // recovered from (a KVM attempt) is explained by the note that follows it.
        break;
      case 'ssh-attempt':
        // One line every few seconds is enough.
        if (e.result === 'ok' || e.elapsedMs - lastSshLine >= 5000) {
          lastSshLine = e.elapsedMs;
          write(`layer-forensics: ssh attempt ${e.attempt}: ${e.result} (${(e.elapsedMs / 1000).toFixed(1)} s of ${(e.bootTimeMs / 1000).toFixed(0)} s)\n`);
        }
        break;
      case 'note':
        write(`layer-forensics: note: ${escapeText(e.message)}\n`);
        break;
      default:
        break;
    }
  };
}
