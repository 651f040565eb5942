// Record the TUI's fixtures from real runs of the pipeline on the sample store: the events
// runDiagnose emits and the result it returns, written to test/tui/fixtures/<scenario>.json.
// Run by hand, not by `npm test` (it boots the sample guest three times under QEMU):
//
//   npx vitest run --config test/tui/record.vitest.config.ts            # every scenario
//   npx vitest run --config test/tui/record.vitest.config.ts -t direct  # one of them
//
// then look at `git diff --stat test/tui/fixtures` and run `npx vitest run test/tui`.
// Scenarios (SCENARIOS in recording.ts):
//   boot-kvm-unusable  --qemu-accel auto where KVM cannot be used (here: no vmx/svm; on a host
//                      whose KVM works, /dev/kvm is pointed at a path that does not exist): TCG
//   boot-kvm-failed    --qemu-accel auto made to try KVM (bootLayer's kvmCheckCpuFlags: false)
//                      on a host where it fails for real (QEMU aborts): the fall back to TCG
//   boot-timeout       --qemu-boot-time 1: the guest does not answer SSH in time, the run fails
//   boot-aborted       a boot aborted (as Esc, q and Ctrl-C do) at its first SSH attempt
//   direct             --via direct: the disk read in-process, no QEMU
//   direct-failed      --via direct --partition 9: a partition the disk does not have
//   direct-openbsd     --via direct on the OpenBSD-shaped sample's corrupted copy layer (not
//                      bootable): blocks held by ancestors, provenance traced to the parent layer
// The boot's test hooks (which KVM check, which /dev/kvm) reach bootLayer through
// DiagnoseOptions.bootTesting: the only thing the recorder changes.

import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiagnose } from '../../src/diagnose/run-diagnose.js';
import type { DiagnoseEvent, DiagnoseOptions, DiagnoseResult } from '../../src/diagnose/types.js';
import { oneLine } from '../../src/util/errors.js';
import type { BootOptions } from '../../src/vm/boot.js';
import { kvmStatus } from '../../src/vm/accel.js';
import { BOOT_DEFAULTS } from '../../src/vm/guest.js';
import { loadSample, type Sample } from '../helpers/sample.js';
import { RECORDING_SCHEMA, fixturePath, recordTree, type RecordedOutcome, type Recording, type Scenario, type TimedEvent } from './recording.js';


let S: Sample;
let state: string;

beforeAll(async () => {
  S = loadSample();
  state = await mkdtemp(join(tmpdir(), 'lf-record-'));
  process.env.XDG_STATE_HOME = state;
}, 900_000);
afterAll(() => rm(state, { recursive: true, force: true }));

function options(over: Partial<DiagnoseOptions>): DiagnoseOptions {
  return {
    store: S.store,
    jobLog: S.jobLog,
    expected: S.expected,
    corpusGuest: ['/home/opam/opam-repository'],
    sshKey: S.sshKey,
    ...BOOT_DEFAULTS,
    ...over,
  };
}

/** A JSON document with one event per line (re-recording gives readable diffs). */
function serialise(r: Recording): string {
  const { events, outcome, ...head } = r;
  const top = JSON.stringify(head, null, 2).replace(/\n}$/, '');
  const ev = events.map((e) => `    ${JSON.stringify(e)}`).join(',\n');
  return `${top},\n  "events": [\n${ev}\n  ],\n  "outcome": ${JSON.stringify(outcome)}\n}\n`;
}

async function outcomeOf(opts: DiagnoseOptions, run: Promise<DiagnoseResult>): Promise<RecordedOutcome> {
  let res: DiagnoseResult;
  try {
    res = await run;
  } catch (err) {
    return { kind: 'error', message: oneLine(err) };
  }
  // A direct run's files stay readable after it (each read opens the image again).
  const paths = res.report.files.map((f) => f.path);
  return { kind: 'result', report: res.report, expected: await recordTree(res.expected, paths), actual: await recordTree(res.actual, paths) };
}

async function record(
  scenario: Scenario,
  description: string,
  over: Partial<DiagnoseOptions>,
  boot: Partial<BootOptions> = {},
  abortWhen?: (e: DiagnoseEvent) => boolean,
): Promise<Recording> {
  const opts = { ...options(over), bootTesting: boot };
  const events: TimedEvent[] = [];
  const t0 = Date.now();
  const ac = new AbortController();
  let abortedAt: number | undefined;
  const onEvent = (e: DiagnoseEvent) => {
    events.push({ at: Date.now() - t0, event: structuredClone(e) });
    if (abortedAt === undefined && abortWhen?.(e)) {
      abortedAt = Date.now() - t0;
      ac.abort();
    }
  };
  const outcome = await outcomeOf(opts, runDiagnose(opts, { onEvent, signal: ac.signal }));
  const rec: Recording = {
    schema: RECORDING_SCHEMA,
    scenario,
    description,
    recordedAt: new Date().toISOString(),
    options: { ...over, ...Object.fromEntries(Object.entries(boot).map(([k, v]) => [`bootLayer.${k}`, v])) },
    events,
    ...(abortedAt !== undefined ? { abortedAt } : {}),
    outcome,
  };
  await writeFile(fixturePath(scenario), serialise(rec));
  return rec;
}

/** bootLayer options that make `auto` find KVM unusable on any host. */
async function kvmUnusable(): Promise<Partial<BootOptions>> {
  return (await kvmStatus()).usable ? { devKvm: join(state, 'no-such-kvm') } : {};
}

const types = (r: Recording) => r.events.map((e) => e.event.type);

describe('record the TUI fixtures from real runs on the sample store', () => {
  it('boot-kvm-unusable', async () => {
    const r = await record('boot-kvm-unusable', 'A boot of the corrupted copy layer where `auto` finds KVM unusable and boots under TCG', { layer: S.layers.copyCorrupt }, await kvmUnusable());
    expect(r.outcome.kind, JSON.stringify(r.outcome).slice(0, 300)).toBe('result');
    expect(r.events.find((e) => e.event.type === 'accel')?.event).toMatchObject({ accel: 'tcg', note: expect.stringMatching(/KVM not usable/) });
  }, 600_000);

  it('boot-kvm-failed', async () => {
    // KVM is tried whatever the CPU flags say; /dev/kvm must exist for `auto` to try it.
    const boot: Partial<BootOptions> = { kvmCheckCpuFlags: false, ...(existsSync('/dev/kvm') ? {} : { devKvm: join(state, 'fake-kvm') }) };
    if (boot.devKvm) await writeFile(boot.devKvm, '');
    const r = await record('boot-kvm-failed', 'A boot where `auto` tries KVM, QEMU fails under it, and the boot falls back to TCG', { layer: S.layers.copyCorrupt }, boot);
    const accels = r.events.flatMap((e) => (e.event.type === 'accel' ? [e.event.accel] : []));
    expect(accels, 'KVM works on this host: record this scenario where it does not').toEqual(['kvm', 'tcg']);
    expect(r.outcome.kind).toBe('result');
  }, 600_000);

  it('boot-timeout', async () => {
    const r = await record('boot-timeout', 'A boot with --qemu-boot-time 1: the guest does not answer SSH in time and the run fails', { layer: S.layers.copyCorrupt, bootTimeSec: 1 }, await kvmUnusable());
    expect(r.outcome).toMatchObject({ kind: 'error', message: expect.stringMatching(/did not answer SSH/) });
    expect(types(r)).toContain('step-fail');
  }, 600_000);

  it('boot-aborted', async () => {
    const r = await record('boot-aborted', 'A boot aborted (as Esc, q and Ctrl-C do) at its first SSH attempt', { layer: S.layers.copyCorrupt }, await kvmUnusable(), (e) => e.type === 'ssh-attempt');
    expect(r.abortedAt).toBeDefined();
    expect(r.outcome.kind).toBe('error');
  }, 600_000);

  it('direct', async () => {
    const r = await record('direct', 'The corrupted copy layer read with --via direct: the disk read in-process, no QEMU', { layer: S.layers.copyCorrupt, via: 'direct' });
    expect(r.outcome.kind).toBe('result');
    expect(types(r)).not.toContain('qemu-started');
  }, 120_000);

  it('direct-openbsd', async () => {
    const file = join(S.store, '..', 'openbsd.json');
    if (!existsSync(file)) throw new Error(`${file}: missing (bash samples/build-store.sh builds the OpenBSD-shaped sample)`);
    const O = JSON.parse(readFileSync(file, 'utf8')) as { store: string; jobLog: string; expected: string; layers: { copyCorrupt: string } };
    const r = await record('direct-openbsd', "The OpenBSD-shaped sample's corrupted copy layer read with --via direct (it cannot be booted here)", {
      store: O.store,
      jobLog: O.jobLog,
      expected: O.expected,
      layer: O.layers.copyCorrupt,
      corpusGuest: [],
      guestOs: 'openbsd',
      via: 'direct',
    });
    expect(r.outcome.kind, JSON.stringify(r.outcome).slice(0, 300)).toBe('result');
    if (r.outcome.kind === 'result') expect(r.outcome.report.files.some((f) => f.provenance?.source === 'parent-layer')).toBe(true);
  }, 120_000);

  it('direct-failed', async () => {
    const r = await record('direct-failed', 'A direct reading asked for a partition the disk does not have (--partition 9)', { layer: S.layers.copyCorrupt, via: 'direct', partition: '9' });
    expect(r.outcome.kind).toBe('error');
    expect(types(r)).toContain('step-fail');
  }, 120_000);
});
