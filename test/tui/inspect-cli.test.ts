// `layer-forensics inspect` (and the bare `layer-forensics`) without a terminal: one line that
// points to `diagnose`, exit 2. Bad input is refused before the screen opens.

import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const LINE = 'layer-forensics: inspect needs a terminal; use `layer-forensics diagnose` for scripts';

describe('inspect without a terminal', () => {
  it.each([[['inspect']], [[]], [['inspect', 'abc123', '--store', '/nonexistent']]])('%j: one line on stderr, exit 2', async (args) => {
    const r = await runCli(args);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(String(r.stderr).trim()).toBe(LINE);
  });

  it('--help lists the options of design.md section 4', async () => {
    const r = await runCli(['inspect', '--help']);
    expect(r.exitCode).toBe(0);
    for (const o of ['--store', '--job-log', '--step', '--expected', '--dst', '--qemu-cpus', '--qemu-memory', '--qemu-guest-os', '--qemu-guest-arch', '--qemu-boot-time', '--qemu-accel', '--ssh-user', '--ssh-key', '--guest-privilege', '--corpus', '--corpus-guest', '--block-size', '--export-dir', '--via', '--partition']) {
      expect(String(r.stdout)).toContain(o);
    }
  });
});
