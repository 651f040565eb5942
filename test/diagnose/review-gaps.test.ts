// Gaps found in review (issue 9, item 6): escaping that tells a literal backslash from an escape,
// option errors that show what was typed, and --step without --job-log refused.

import { describe, expect, it } from 'vitest';
import { escapeBytes, escapeText } from '../../src/report/escape.js';
import { blockSizeOption, numberOption } from '../../src/cli/options.js';
import { runCli } from '../helpers/cli.js';

describe('escapeText: a literal backslash is distinguishable from an escape', () => {
  it('a backslash is shown doubled; what reads as an escape always is one', () => {
    expect(escapeText('a\\b')).toBe('a\\\\b');
    expect(escapeText('\x1b')).toBe('\\e');
    // The four characters \x1b, and the one character ESC, no longer look alike.
    expect(escapeText('\\x1b')).toBe('\\\\x1b');
    expect(escapeText('\\x1b')).not.toBe(escapeText('\x1b'));
    expect(escapeText('\\e')).not.toBe(escapeText('\x1b'));
    expect(escapeText('C:\\Windows\\System32')).toBe('C:\\\\Windows\\\\System32');
  });

  it('in raw bytes too, and in invalid UTF-8 next to them', () => {
    expect(escapeBytes(Buffer.from([0x5c, 0x78, 0x39, 0x62]))).toBe('\\\\x9b');
    expect(escapeBytes(Buffer.from([0x9b]))).toBe('\\x9b');
    expect(escapeBytes(Buffer.from([0x5c, 0xff]))).toBe('\\\\\\xff');
  });

  it('every escape it writes is a backslash and a known form, so the output can be read back', () => {
    const s = 'tab\there \\ ESC\x1b DEL\x7f CSI\u009b bidi\u202e nul\0 ok ✓';
    const out = escapeText(s);
    const forms = out.match(/\\(\\|[tnr0e]|x[0-9a-f]{2}|u[0-9a-f]{4})/g) ?? [];
    expect(out.replace(/\\(\\|[tnr0e]|x[0-9a-f]{2}|u[0-9a-f]{4})/g, '')).not.toContain('\\');
    expect(forms.length).toBeGreaterThanOrEqual(7);
  });
});

describe('option errors show what was typed', () => {
  it.each([
    ['qemu-cpus', 'two', {}, /--qemu-cpus "two": not a number/],
    ['qemu-cpus', '', {}, /--qemu-cpus "": not a number/],
    ['step', '1.5', { integer: true, min: 1 }, /--step 1\.5: must be a whole number/],
    ['step', '0', { integer: true, min: 1 }, /--step 0: must be at least 1/],
    ['qemu-memory', '-1', { positive: true }, /--qemu-memory -1: must be a positive number/],
  ] as const)('--%s %j', (name, typed, o, re) => {
    expect(() => numberOption(name, o)(typed)).toThrow(re);
  });

  it('--block-size shows the text, not the number it parsed to', () => {
    expect(() => blockSizeOption('1e3')).toThrow(/--block-size 1e3: must be a power of two/);
    expect(() => blockSizeOption('0x300')).toThrow(/--block-size 0x300: must be a power of two/);
    expect(blockSizeOption(['512', '4096'])).toBe(4096);
  });
});

describe('the real executable', () => {
  it('--step without --job-log is refused, in one line, exit 2', async () => {
    const r = await runCli(['diagnose', '--store', '/nonexistent-store', '--layer', 'abc', '--step', '2', '--expected', '/tmp']);
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr).trim().split('\n')).toHaveLength(1);
    expect(String(r.stderr)).toMatch(/--step 2: only means something with --job-log/);
  });

  it('a number option shows what was typed, not NaN', async () => {
    const r = await runCli(['classify', '--expected', '/tmp', '--actual', '/tmp', '--block-size', 'big']);
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toMatch(/--block-size "big": not a number/);
    expect(String(r.stderr)).not.toMatch(/NaN/);
  });
});
