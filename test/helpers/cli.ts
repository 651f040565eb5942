// Run the real executable, as a user would.

import { execa, type Result } from 'execa';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/layer-forensics', import.meta.url));

export async function runCli(args: string[], opts: { env?: Record<string, string>; timeout?: number } = {}): Promise<Result> {
  return execa(BIN, args, { reject: false, env: { NO_COLOR: '', ...opts.env }, timeout: opts.timeout ?? 120_000, stdin: 'ignore' });
}
