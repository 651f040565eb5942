// Colour: classes and the verdict in their colours; NO_COLOR turns every colour off (bold,
// dim and inverse stay, so the selection is still visible).

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import { App } from '../../src/tui/app.js';
import { colourFromEnv } from '../../src/tui/theme.js';
import { CLEAN_ID, LAYER_ID, buildFixture, deps, init, type Fixture } from './fixtures.js';
import { auditLines } from './audit-fake.js';
import { ANSI_SGR_COLOUR, KEY, press, stripAnsi, waitFor } from './ink-helpers.js';
import { ReplayRun } from './replay.js';

// Tests do not run on a terminal: force the colour ink would use on one, before ink (and the
// colour library under it) is loaded; given back after this file.
const forced = vi.hoisted(() => {
  const before = process.env.FORCE_COLOR;
  process.env.FORCE_COLOR = '1';
  return before;
});

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});
afterAll(async () => {
  if (forced === undefined) delete process.env.FORCE_COLOR;
  else process.env.FORCE_COLOR = forced;
  await fx?.remove();
});
afterEach(() => cleanup());

async function walk(colour: boolean): Promise<string[]> {
  const r = render(<App deps={deps(new ReplayRun('boot-kvm-unusable', { result: fx.incident }))} init={init({ layer: LAYER_ID, expected: fx.expected })} colour={colour} size={{ columns: 100, rows: 30 }} />);
  await waitFor(() => r.lastFrame()!.includes('Sources'));
  await press(r.stdin, KEY.enter);
  await waitFor(() => r.lastFrame()!.includes('Results'));
  const frames = [r.lastFrame()!];
  await press(r.stdin, KEY.enter);
  await waitFor(() => r.lastFrame()!.includes('+++ layer/tls-async.opam'));
  frames.push(r.lastFrame()!);
  await press(r.stdin, KEY.esc);
  await waitFor(() => r.lastFrame()!.includes('PROVENANCE'));
  await press(r.stdin, 'G', KEY.up, KEY.enter);
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

  it('the Layers screen colours each layer by its audit verdict; not with NO_COLOR', async () => {
    for (const colour of [true, false]) {
      const d = deps(new ReplayRun('boot-kvm-unusable', { result: fx.incident }), { cachedAudits: async () => new Map(auditLines().map((l) => [l.layer, l])) });
      const r = render(<App deps={d} init={init()} colour={colour} size={{ columns: 100, rows: 30 }} />);
      await waitFor(() => stripAnsi(r.lastFrame()!).includes('DATA LOSS'));
      const row = (id: string) => r.lastFrame()!.split('\n').find((l) => stripAnsi(l).slice(2, 14) === id.slice(0, 12))!;
      if (colour) {
        expect(row(LAYER_ID)).toMatch(/\x1b\[31m(\x1b\[1m)?1a3b60d28d33/); // red: data loss
        expect(row(LAYER_ID)).toMatch(/\x1b\[31m(\x1b\[1m)?DATA LOSS/);
        expect(row(CLEAN_ID)).toMatch(/\x1b\[32m85d16de26114/); // green: clean
      } else {
        for (const l of r.frames) expect(l).not.toMatch(ANSI_SGR_COLOUR);
        expect(stripAnsi(row(LAYER_ID))).toContain('DATA LOSS');
      }
      cleanup();
    }
  });

  it('NO_COLOR is read from the environment', () => {
    expect(colourFromEnv({})).toBe(true);
    expect(colourFromEnv({ NO_COLOR: '' })).toBe(true);
    expect(colourFromEnv({ NO_COLOR: '1' })).toBe(false);
  });
});

describe('help', () => {
  it('? lists every key of the screen and the global ones; any key closes it and the screen is as it was', async () => {
    const r = render(<App deps={deps(new ReplayRun('boot-kvm-unusable', { result: fx.incident }))} init={init({ layer: LAYER_ID, expected: fx.expected })} size={{ columns: 100, rows: 30 }} />);
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
