// Recorded runs of the real pipeline (runDiagnose on the sample store), for the TUI's tests: the
// events exactly as they came, when they came, and how the run ended (the report and the bytes of
// every file on both sides, so the Results and File screens can be fed the same run). Written by
// record-fixtures.ts (see there to record them again), read by the tests through loadRecording().

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DiagnoseEvent, DiagnoseResult } from '../../src/diagnose/types.js';
import type { Report } from '../../src/report/schema.js';
import type { Tree, TreeEntry } from '../../src/tree/tree.js';

export const RECORDING_SCHEMA = 'layer-forensics.tui-recording/v1';

/** The runs recorded, by file name under test/tui/fixtures/. */
export const SCENARIOS = ['boot-kvm-unusable', 'boot-kvm-failed', 'boot-timeout', 'boot-aborted', 'direct', 'direct-failed', 'direct-openbsd'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface TimedEvent {
  /** Milliseconds since the run started. */
  at: number;
  event: DiagnoseEvent;
}

/** A tree's regular files: path → bytes (base64), and whatever a file view needs besides. */
export type RecordedTree = Record<string, { base64: string; storage?: TreeEntry['storage'] }>;

export type RecordedOutcome =
  | { kind: 'result'; report: Report; expected: RecordedTree; actual: RecordedTree }
  | { kind: 'error'; message: string };

export interface Recording {
  schema: typeof RECORDING_SCHEMA;
  scenario: Scenario;
  /** What the run was, in words. */
  description: string;
  recordedAt: string;
  /** The options that differ from the defaults (via, accel, boot time, the test hooks used). */
  options: Record<string, unknown>;
  events: TimedEvent[];
  /** When the run was aborted (as Esc, q or Ctrl-C in the UI do), in ms since the start. */
  abortedAt?: number;
  outcome: RecordedOutcome;
}

export function fixturePath(s: Scenario): string {
  return fileURLToPath(new URL(`./fixtures/${s}.json`, import.meta.url));
}

const cache = new Map<Scenario, Recording>();

export function loadRecording(s: Scenario): Recording {
  let r = cache.get(s);
  if (!r) {
    r = JSON.parse(readFileSync(fixturePath(s), 'utf8')) as Recording;
    if (r.schema !== RECORDING_SCHEMA) throw new Error(`${fixturePath(s)}: not a ${RECORDING_SCHEMA} recording`);
    cache.set(s, r);
  }
  return r;
}

/** The events alone. */
export function eventsOf(s: Scenario): DiagnoseEvent[] {
  return loadRecording(s).events.map((t) => t.event);
}

function toTree(files: RecordedTree): Tree {
  const tree: Tree = new Map();
  for (const [path, f] of Object.entries(files)) {
    const bytes = Buffer.from(f.base64, 'base64');
    tree.set(path, {
      path,
      kind: 'file',
      size: bytes.length,
      ...(f.storage ? { storage: f.storage } : {}),
      read: async () => bytes,
      readHead: async (n) => bytes.subarray(0, n),
    });
  }
  return tree;
}

/** The run's result as runDiagnose returned it (trees in memory); throws for a failed run. */
export function resultOf(s: Scenario): DiagnoseResult {
  const o = loadRecording(s).outcome;
  if (o.kind !== 'result') throw new Error(`the ${s} recording ended in an error: ${o.message}`);
  return { report: structuredClone(o.report), expected: toTree(o.expected), actual: toTree(o.actual) };
}

/** Read a tree's regular files (for the recorder). */
export async function recordTree(tree: Tree, paths: Iterable<string>): Promise<RecordedTree> {
  const out: RecordedTree = {};
  for (const p of paths) {
    const e = tree.get(p);
    if (!e || e.kind !== 'file') continue;
    out[p] = { base64: (await e.read()).toString('base64'), ...(e.storage ? { storage: e.storage } : {}) };
  }
  return out;
}
