// Following the guest's serial console file while QEMU runs: complete lines go to the listener,
// overlong partial lines are cut so a guest that never prints a newline cannot grow memory.

import { open } from 'node:fs/promises';

const READ_CHUNK = 64 * 1024;
const MAX_PARTIAL = 4096;
const POLL_MS = 250;

export interface ConsoleTail {
  /** Console bytes seen so far (a sign of life). */
  bytes(): number;
  stop(): void;
}

export function tailConsole(file: string, onLine: (line: string) => void): ConsoleTail {
  let offset = 0;
  let partial = '';
  let busy = false;
  const poll = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const fh = await open(file, 'r');
      try {
        const buf = Buffer.alloc(READ_CHUNK);
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        if (bytesRead > 0) {
          offset += bytesRead;
          const parts = (partial + buf.subarray(0, bytesRead).toString('latin1')).split(/\r?\n/);
          partial = parts.pop() ?? '';
          if (partial.length > MAX_PARTIAL) {
            parts.push(partial);
            partial = '';
          }
          for (const line of parts) onLine(line);
        }
      } finally {
        await fh.close();
      }
    } catch {
      // not created yet, or removed with the run's temp dir
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void poll(), POLL_MS);
  timer.unref();
  return { bytes: () => offset, stop: () => clearInterval(timer) };
}
