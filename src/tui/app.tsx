// The terminal UI: Layers → Sources → Run → Results → File, over the same pipeline as
// `diagnose` (runDiagnose and its events). The App owns the navigation, the run (and its
// AbortController) and the keys every screen shares; each screen handles its own keys first.
//
// Quitting (q, Ctrl-C) at any step aborts the run, waits for the pipeline to stop QEMU and
// remove the overlay, runs any cleanup left, and only then exits.

import { useCallback, useLayoutEffect, useReducer, useRef, useState } from 'react';
import { Box, Text, useApp, useInput, type Key } from 'ink';
import type { DiagnoseEvent, DiagnoseOptions, DiagnoseResult, RunControl } from '../diagnose/types.js';
import { escapeText } from '../report/escape.js';
import { damagedFirst } from '../report/format.js';
import type { FileReport, Report, VerdictKind } from '../report/schema.js';
import type { Layer } from '../store/store.js';
import { oneLine } from '../util/errors.js';
import { KeyRouter, type KeyHandler, type Status } from './components.js';
import type { Exported } from './export.js';
import { isBack, keyOf, splitRun, type ScreenName } from './keys.js';
import { initialRunState, runReducer, type RunState } from './run-state.js';
import { FileScreen } from './screens/file.js';
import { HelpOverlay } from './screens/help.js';
import { LayersScreen } from './screens/layers.js';
import { ResultsScreen, fileMatches } from './screens/results.js';
import { RunScreen, type RunStatus } from './screens/run.js';
import { SourcesScreen } from './screens/sources.js';
import { SizeOverride, type Size } from './terminal.js';
import { ColourContext } from './theme.js';
import { shortId } from './text.js';

/** What the UI needs from the outside world (the real ones in inspect.tsx; fakes in tests). */
export interface TuiDeps {
  listLayers(): Promise<Layer[]>;
  run(opts: DiagnoseOptions, ctl: RunControl): Promise<DiagnoseResult>;
  exportReports(report: Report, dir: string): Promise<Exported>;
  /** Stop whatever is left (QEMU, overlays, temp dirs): the process-wide cleanups. */
  cleanup(): Promise<void>;
}

export interface JobLogChoice {
  file: string;
  step?: number;
  layerId: string;
  dst: string;
  src: string[];
  copyIndex?: number;
}

export interface TuiInit {
  /** The store as given, for the title. */
  store: string;
  /** Options for every run; the layer, sources and destination come from the screens. */
  options: Omit<DiagnoseOptions, 'layer' | 'expected' | 'dst' | 'jobLog' | 'step'>;
  /** A layer given on the command line (full id): the Layers screen is skipped. */
  layer?: string;
  jobLog?: JobLogChoice;
  expected: string;
  dst: string;
  exportDir: string;
}

export type Outcome =
  | { kind: 'verdict'; verdict: VerdictKind }
  | { kind: 'quit' }
  | { kind: 'interrupted' }
  | { kind: 'failed'; reason: string };

export interface AppProps {
  deps: TuiDeps;
  init: TuiInit;
  colour?: boolean;
  /** A fixed terminal size (tests). */
  size?: Size;
  onExit?: (o: Outcome) => void;
  /** How long to wait for the pipeline to clean up after an abort before going on. */
  abortWaitMs?: number;
}

const EVENT_FLUSH_MS = 40;

function settle(p: Promise<unknown> | null, ms: number): Promise<void> {
  if (!p) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve();
      },
      () => {
        clearTimeout(t);
        resolve();
      },
    );
  });
}

export function App({ deps, init, colour = true, size, onExit, abortWaitMs = 30_000 }: AppProps) {
  const { exit } = useApp();
  const [screen, setScreen] = useState<ScreenName>(init.layer ? 'sources' : 'layers');
  const [help, setHelp] = useState(false);
  const [status, setStatus] = useState<Status | null>(null);
  const [quitting, setQuitting] = useState(false);

  // Layers
  const [layers, setLayers] = useState<Layer[] | null>(null);
  const [layersError, setLayersError] = useState<string | null>(null);
  const [layerSel, setLayerSel] = useState<string | null>(init.layer ?? init.jobLog?.layerId ?? null);
  const [layerFilter, setLayerFilter] = useState('');
  const [layerId, setLayerId] = useState<string | null>(init.layer ?? null);

  // Sources
  const [sources, setSources] = useState({ expected: init.expected, dst: init.dst });

  // Run
  // Events come in bursts (a booting guest prints hundreds of console lines): they are queued
  // and applied together at most every EVENT_FLUSH_MS, so the screen redraws once per batch.
  const [runState, dispatch] = useReducer(
    (s: RunState, batch: DiagnoseEvent[] | null) => (batch ? batch.reduce((acc, e) => runReducer(acc, e), s) : initialRunState()),
    undefined,
    initialRunState,
  );
  const queue = useRef<DiagnoseEvent[]>([]);
  const flushTimer = useRef<NodeJS.Timeout | null>(null);
  const flushNow = useCallback(() => {
    if (flushTimer.current) clearTimeout(flushTimer.current);
    flushTimer.current = null;
    const batch = queue.current;
    queue.current = [];
    if (batch.length) dispatch(batch);
  }, []);
  const enqueue = useCallback((e: DiagnoseEvent) => {
    queue.current.push(e);
    if (!flushTimer.current) {
      flushTimer.current = setTimeout(() => {
        flushTimer.current = null;
        const batch = queue.current;
        queue.current = [];
        dispatch(batch);
      }, EVENT_FLUSH_MS);
    }
  }, []);
  useLayoutEffect(
    () => () => {
      if (flushTimer.current) clearTimeout(flushTimer.current);
    },
    [],
  );
  const [runStatus, setRunStatus] = useState<RunStatus>('running');
  const [runError, setRunError] = useState<string | null>(null);
  const [consoleShown, setConsoleShown] = useState(false);
  const [result, setResult] = useState<DiagnoseResult | null>(null);
  const abortRef = useRef<AbortController | null>(null);
  const runRef = useRef<Promise<unknown> | null>(null);

  // Results and File
  const [fileSel, setFileSel] = useState<string | null>(null);
  const [fileFilter, setFileFilter] = useState('');
  const [openFile, setOpenFile] = useState<FileReport | null>(null);

  /** State read after an await (quitting waits for the clean-up): always the latest. */
  const latest = useRef({ result, runError, help });
  latest.current = { result, runError, help };

  const handlerRef = useRef<KeyHandler | null>(null);
  const setHandler = useCallback((h: KeyHandler | null) => {
    handlerRef.current = h;
  }, []);
  const quittingRef = useRef(false);

  useLayoutEffect(() => {
    let live = true;
    deps.listLayers().then(
      (ls) => {
        if (!live) return;
        setLayers(ls);
        setLayerSel((sel) => (sel && ls.some((l) => l.id === sel) ? sel : (ls[0]?.id ?? null)));
      },
      (err: unknown) => live && setLayersError(oneLine(err)),
    );
    return () => {
      live = false;
    };
  }, [deps]);

  const usesJobLog = (id: string) => init.jobLog !== undefined && init.jobLog.layerId === id;

  const startRun = (id: string, v: { expected: string; dst: string }) => {
    const ac = new AbortController();
    abortRef.current = ac;
    if (flushTimer.current) clearTimeout(flushTimer.current);
    flushTimer.current = null;
    queue.current = [];
    dispatch(null);
    setRunStatus('running');
    setRunError(null);
    setResult(null);
    setStatus(null);
    setScreen('run');
    const opts: DiagnoseOptions = {
      ...init.options,
      layer: id,
      expected: v.expected,
      dst: v.dst,
      ...(usesJobLog(id) ? { jobLog: init.jobLog!.file, step: init.jobLog!.step } : {}),
    };
    const p = deps.run(opts, { onEvent: enqueue, signal: ac.signal });
    runRef.current = p;
    p.then(
      (res) => {
        if (ac.signal.aborted) return;
        flushNow();
        setResult(res);
        setRunStatus('done');
        setFileSel(damagedFirst(res.report.files)[0]?.path ?? null);
        setFileFilter('');
        setScreen((s) => (s === 'run' ? 'results' : s));
      },
      (err: unknown) => {
        if (ac.signal.aborted) return;
        flushNow();
        setRunStatus('failed');
        setRunError(oneLine(err));
      },
    ).finally(() => {
      if (runRef.current === p) runRef.current = null;
    });
  };

  /** Abort the run in progress and wait for its cleanup (QEMU stopped, overlay removed). */
  const stopRun = async (): Promise<void> => {
    const p = runRef.current;
    if (!p) return;
    setRunStatus('stopping');
    abortRef.current?.abort();
    await settle(p, abortWaitMs);
    await deps.cleanup().catch(() => {});
    setRunStatus('stopped');
  };

  const quit = async (kind: 'quit' | 'interrupted') => {
    if (quittingRef.current) return;
    quittingRef.current = true;
    setQuitting(true);
    setHelp(false);
    try {
      if (runRef.current) await stopRun();
      await deps.cleanup();
    } catch {
      // exit anyway
    }
    const { result: res, runError: failure } = latest.current;
    let outcome: Outcome;
    if (kind === 'interrupted') outcome = { kind: 'interrupted' };
    else if (res) outcome = { kind: 'verdict', verdict: res.report.verdict.kind };
    else if (failure) outcome = { kind: 'failed', reason: failure };
    else outcome = { kind: 'quit' };
    onExit?.(outcome);
    exit();
  };

  const doExport = () => {
    if (!result) return;
    setStatus({ tone: 'info', text: 'Writing the reports…' });
    deps.exportReports(result.report, init.exportDir).then(
      (x) => setStatus({ tone: 'ok', text: `Exported ${escapeText(x.json.replace(/\.json$/, ''))}.{json,md}` }),
      (err: unknown) => setStatus({ tone: 'error', text: `export failed: ${escapeText(oneLine(err))}` }),
    );
  };

  const back = () => {
    setStatus(null);
    switch (screen) {
      case 'sources':
        setScreen('layers');
        break;
      case 'run':
        if (runRef.current) {
          void stopRun().then(() => setScreen('sources'));
        } else setScreen('sources');
        break;
      case 'results':
        setScreen('run');
        break;
      case 'file':
        setScreen('results');
        break;
      default:
        break;
    }
  };

  // ink re-subscribes its input handler after each render (a passive effect): going through a
  // ref assigned during render, a key never meets a stale closure.
  const onKey = useRef<(input: string, key: Key) => void>(() => {});
  // A run of characters read at once is replayed one token at a time, each after the screen has
  // redrawn (the next token is scheduled from the layout effect of the commit the previous one
  // caused), so every key meets the state the previous one left.
  const pending = useRef<string[]>([]);
  const draining = useRef(false);
  const [keyTick, setKeyTick] = useState(0);
  const drainOne = () => {
    const next = pending.current.shift();
    if (next === undefined) {
      draining.current = false;
      return;
    }
    draining.current = true;
    if ([...next].length > 1) {
      // Printable text: a text field takes it whole; otherwise it is typed one key at a time.
      const whole = !latest.current.help && !quittingRef.current && (handlerRef.current?.(next, keyOf('a').key) ?? false);
      if (!whole) pending.current.unshift(...next);
    } else {
      const k = keyOf(next);
      onKey.current(k.input, k.key);
    }
    setKeyTick((t) => t + 1);
  };
  const drainRef = useRef(drainOne);
  drainRef.current = drainOne;
  useLayoutEffect(() => {
    // Out of the commit (a long run must not nest renders), but only after it.
    if (!draining.current) return;
    const t = setTimeout(() => drainRef.current(), 0);
    return () => clearTimeout(t);
  }, [keyTick]);
  useInput((input, key) => {
    const run = splitRun(input);
    if (run === null) {
      onKey.current(input, key);
      return;
    }
    if (run.includes('\x03')) {
      pending.current = [];
      void quit('interrupted');
      return;
    }
    pending.current.push(...run);
    if (!draining.current) drainOne();
  });
  onKey.current = (input, key) => {
    if (key.ctrl && input === 'c') {
      void quit('interrupted');
      return;
    }
    if (quittingRef.current) return;
    if (help) {
      setHelp(false);
      return;
    }
    if (handlerRef.current?.(input, key)) return;
    if (input === '?') setHelp(true);
    else if (input === 'q') void quit('quit');
    else if (isBack(input, key)) back();
  };

  const visibleFiles = result ? damagedFirst(result.report.files).filter((f) => fileMatches(f, fileFilter)) : [];

  let body;
  if (quitting) {
    body = (
      <Text>
        <Text color={colour ? 'yellow' : undefined}>Stopping QEMU and removing the overlay before exiting…</Text>
      </Text>
    );
  } else if (screen === 'layers') {
    body = (
      <LayersScreen
        store={init.store}
        layers={layers}
        error={layersError}
        selected={layerSel}
        onSelect={setLayerSel}
        filter={layerFilter}
        onFilter={setLayerFilter}
        jobLogLayer={init.jobLog?.layerId}
        status={status}
        onChoose={(l) => {
          setLayerId(l.id);
          setStatus(null);
          // The job log's copy step knows the destination; another layer keeps what was typed.
          if (usesJobLog(l.id)) setSources((s) => ({ ...s, dst: init.dst }));
          setScreen('sources');
        }}
      />
    );
  } else if (screen === 'sources' && layerId) {
    const jl = usesJobLog(layerId) ? init.jobLog : undefined;
    body = (
      <SourcesScreen
        layerId={layerId}
        layerNote={jl ? `from the job log ${jl.file}${jl.copyIndex ? `, copy step ${jl.copyIndex}` : ''}` : undefined}
        expected={sources.expected}
        dst={sources.dst}
        onChange={setSources}
        src={jl?.src}
        status={status}
        onStart={(v) => {
          setSources(v);
          startRun(layerId, v);
        }}
      />
    );
  } else if (screen === 'run' && layerId) {
    body = (
      <RunScreen
        layerId={layerId}
        expected={sources.expected}
        dst={sources.dst}
        state={runState}
        status={runStatus}
        error={runError}
        consoleShown={consoleShown}
        onToggleConsole={() => setConsoleShown((c) => !c)}
        onRetry={() => startRun(layerId, sources)}
        onResults={() => setScreen('results')}
        hasResults={result !== null}
        screenStatus={status}
      />
    );
  } else if (screen === 'results' && result) {
    body = (
      <ResultsScreen
        result={result}
        selected={fileSel}
        onSelect={setFileSel}
        filter={fileFilter}
        onFilter={setFileFilter}
        onOpen={(f) => {
          setOpenFile(f);
          setStatus(null);
          setScreen('file');
        }}
        onExport={doExport}
        status={status}
      />
    );
  } else if (screen === 'file' && result && openFile) {
    const i = visibleFiles.findIndex((f) => f.path === openFile.path);
    body = (
      <FileScreen
        file={openFile}
        position={`${escapeText(openFile.path)} (${i + 1} of ${visibleFiles.length})`}
        expected={result.expected}
        actual={result.actual}
        blockSize={result.report.extraction.blockSize}
        layerId={result.report.layer?.id}
        status={status}
        onExport={doExport}
        onNext={(d) => {
          const next = visibleFiles[i + d];
          if (next) {
            setOpenFile(next);
            setFileSel(next.path);
          }
        }}
      />
    );
  } else {
    body = <Text>{layerId ? `layer ${shortId(layerId)}` : 'no layer chosen'}</Text>;
  }

  return (
    <ColourContext.Provider value={colour}>
      <SizeOverride.Provider value={size ?? null}>
        <KeyRouter.Provider value={setHandler}>
          {/* The screen stays mounted under the help, so it keeps its scroll and filter. */}
          <Box flexDirection="column" display={help && !quitting ? 'none' : 'flex'}>
            {body}
          </Box>
          {help && !quitting ? <HelpOverlay screen={screen} /> : null}
        </KeyRouter.Provider>
      </SizeOverride.Provider>
    </ColourContext.Provider>
  );
}
