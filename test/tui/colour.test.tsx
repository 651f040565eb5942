// Colour: classes and the verdict in their colours; NO_COLOR turns every colour off (bold,
// dim and inverse stay, so the selection is still visible).

import chalk from 'chalk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import { App } from '../../src/tui/app.js';
import { colourFromEnv } from '../../src/tui/theme.js';
import { FakeRun, LAYER_ID, buildFixture, deps, init, type Fixture } from './fixtures.js';
import { ANSI_SGR_COLOUR, KEY, press, stripAnsi, waitFor } from './ink-helpers.js';

let fx: Fixture;
const level = chalk.level;
beforeAll(async () => {
  fx = await buildFixture();
  // Tests do not run on a terminal: force the colour ink would use on one.
  chalk.level = 1;
});
afterAll(async () => {
  chalk.level = level;
  await fx?.remove();
});
afterEach(() => cleanup());

async function walk(colour: boolean): Promise<string[]> {
  const r = render(<App deps={deps(new FakeRun(fx.incident))} init={init({ layer: LAYER_ID, expected: fx.expected })} colour={colour} size={{ columns: 100, rows: 30 }} />);
  await waitFor(() => r.lastFrame()!.includes('Sources'));
  await press(r.stdin, KEY.enter);
  await waitFor(() => r.lastFrame()!.includes('Results'));
  const frames = [r.lastFrame()!];
  await press(r.stdin, KEY.enter);
  await waitFor(() => r.lastFrame()!.includes('+++ layer/tls-async.opam'));
  frames.push(r.lastFrame()!);
  await press(r.stdin, KEY.esc, 'G', KEY.up, KEY.enter);
  await waitFor(() => r.lastFrame()!.includes('directory block:'));
  frames.push(r.lastFrame()!);
  await press(r.stdin, KEY.esc, KEY.esc);
  await waitFor(() => r.lastFrame()!.includes('Enter shows the results'));
  frames.push(r.lastFrame()!);
  return r.frames.slice();
}

describe('colour', () => {
  it('classes and the verdict are coloured', async () => {
    const frames = await walk(true);
    const results = frames.find((f) => f.includes('SOFT-UPDATES DATA LOSS'))!;
    expect(results).toMatch(/\x1b\[35mdirectory-block/); // magenta
    expect(results).toMatch(/\x1b\[34mzeros/); // blue
    expect(results).toMatch(/\x1b\[33mforeign-text/); // yellow
    expect(results).toMatch(/\x1b\[32mmatch/); // green
    expect(results).toMatch(/\x1b\[31m[^\n]*SOFT-UPDATES DATA LOSS/); // the banner in red
    const diff = frames.find((f) => f.includes('+++ layer/tls-async.opam'))!;
    expect(diff).toMatch(/\x1b\[31m-name: "tls-async"/);
    expect(diff).toMatch(/\x1b\[32m\+name: "zxcvbn"/);
  });

  it('NO_COLOR: no colour anywhere, on any screen', async () => {
    const frames = await walk(false);
    expect(frames.length).toBeGreaterThan(5);
    for (const f of frames) expect(f).not.toMatch(ANSI_SGR_COLOUR);
    // The selection and the banner title stay visible without colour.
    const results = frames.find((f) => f.includes('SOFT-UPDATES DATA LOSS'))!;
    expect(results).toMatch(/\x1b\[7m/);
  });

  it('NO_COLOR is read from the environment', () => {
    expect(colourFromEnv({})).toBe(true);
    expect(colourFromEnv({ NO_COLOR: '' })).toBe(true);
    expect(colourFromEnv({ NO_COLOR: '1' })).toBe(false);
  });
});

describe('help', () => {
  it('? lists every key of the screen and the global ones; any key closes it and the screen is as it was', async () => {
    const r = render(<App deps={deps(new FakeRun(fx.incident))} init={init({ layer: LAYER_ID, expected: fx.expected })} size={{ columns: 100, rows: 30 }} />);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    await press(r.stdin, KEY.enter);
    await waitFor(() => r.lastFrame()!.includes('Results'));
    await press(r.stdin, 'j', 'j', '?');
    await waitFor(() => r.lastFrame()!.includes('Help · Results'));
    const f = stripAnsi(r.lastFrame()!);
    for (const k of ['Enter', '/', 'e', 'Esc', '?', 'q', 'Ctrl-C', 'Esc / Backspace', '↑ ↓  j k']) expect(f).toContain(`  ${k}`);
    expect(f).toContain('export the JSON and Markdown reports');
    await press(r.stdin, 'x');
    await waitFor(() => !r.lastFrame()!.includes('Help'));
    expect(stripAnsi(r.lastFrame()!).split('\n').find((l) => l.startsWith('▶'))).toContain('tls.opam');
    // On the File screen too.
    await press(r.stdin, KEY.enter, '?');
    await waitFor(() => r.lastFrame()!.includes('Help · File'));
    expect(r.lastFrame()).toContain('n p');
  });
});
