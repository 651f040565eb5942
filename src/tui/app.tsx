// The terminal UI: Layers → Sources → Run → Results → File, over the same pipeline as
// `diagnose` (runDiagnose and its events). The App wires named pieces together: the layer list
// and its audit (hooks/use-layers, hooks/use-audit), the run and its abort (hooks/use-run), the
// key replay (hooks/use-key-replay), quitting (hooks/use-quit), and the screen routing
// (routes.tsx). Each screen handles its own keys first; the App handles the keys every screen
// shares (?, q, Esc/Backspace, Ctrl-C).
//
// Quitting (q, Ctrl-C) at any step aborts the run, waits for the pipeline to stop QEMU and
// remove the overlay, stops an audit, runs any cleanup left, and only then exits.

import { useCallback, useRef, useState } from 'react';
import { Box, type Key } from 'ink';
import { escapeText } from '../report/escape.js';
import type { Layer } from '../store/store.js';
import { oneLine } from '../util/errors.js';
import { KeyRouter, type KeyHandler, type Status } from './components.js';
import { useAudit } from './hooks/use-audit.js';
import { useFileNav } from './hooks/use-file-nav.js';
import { useKeyReplay } from './hooks/use-key-replay.js';
import { useLayerList } from './hooks/use-layers.js';
import { useQuit } from './hooks/use-quit.js';
import { useRun } from './hooks/use-run.js';
import { isBack, keyOf, type ScreenName } from './keys.js';
import { ScreenBody, type AppModel } from './routes.js';
import { HelpOverlay } from './screens/help.js';
import { SizeOverride, type Size } from './terminal.js';
import { ColourContext } from './theme.js';
import type { Outcome, RunSources, TuiDeps, TuiInit } from './types.js';

export type { JobLogChoice, Outcome, RunSources, TuiDeps, TuiInit } from './types.js';

export interface AppProps {
  deps: TuiDeps;
  init: TuiInit;
  colour?: boolean;
  /** A fixed terminal size (tests). */
  size?: Size;
  onExit?: (o: Outcome) => void;
  /** How long to wait for the pipeline (or the audit) to clean up after an abort before going on. */
  abortWaitMs?: number;
}

function initialSources(init: TuiInit): RunSources {
  return { expected: init.expected, dst: init.dst, via: init.options.via ?? 'boot', partition: init.options.partition ?? '' };
}

/** The key handler of the screen on show (registered by useKeys), and the keys every screen shares. */
function useSharedKeys(m: Omit<AppModel, 'setHandler'>, back: () => void) {
  const handlerRef = useRef<KeyHandler | null>(null);
  const setHandler = useCallback((h: KeyHandler | null) => {
    handlerRef.current = h;
  }, []);
  const onKey = (input: string, key: Key) => {
    if (m.quit.isQuitting()) return;
    if (m.help) return m.setHelp(false);
    if (handlerRef.current?.(input, key)) return;
    if (input === '?') m.setHelp(true);
    else if (input === 'q') void m.quit.quit('quit');
    else if (isBack(input, key)) back();
  };
  useKeyReplay({
    onKey,
    takeText: (text) => !m.help && !m.quit.isQuitting() && (handlerRef.current?.(text, keyOf('a').key) ?? false),
    onInterrupt: () => void m.quit.quit('interrupted'),
  });
  return setHandler;
}

/** Where Esc and Backspace go from each screen (a run in progress is stopped first). */
function backFrom(m: Omit<AppModel, 'setHandler'>): () => void {
  return () => {
    m.setStatus(null);
    const to: Partial<Record<ScreenName, ScreenName>> = { sources: 'layers', run: 'sources', results: 'run', file: 'results' };
    const next = to[m.screen];
    if (!next) return;
    if (m.screen === 'run' && m.run.active()) void m.run.stop().then(() => m.setScreen('sources'));
    else m.setScreen(next);
  };
}

function useAppModel({ deps, init, onExit, abortWaitMs = 30_000 }: AppProps): AppModel {
  const [screen, setScreen] = useState<ScreenName>(init.layer ? 'sources' : 'layers');
  const [help, setHelp] = useState(false);
  const [status, setStatus] = useState<Status | null>(null);
  const layers = useLayerList(deps, init);
  const audit = useAudit(deps, layers.addAudits, abortWaitMs);
  const run = useRun(deps, init, abortWaitMs);
  const [layerId, setLayerId] = useState<string | null>(init.layer ?? null);
  const [sources, setSources] = useState<RunSources>(() => initialSources(init));
  const files = useFileNav();
  const [consoleShown, setConsoleShown] = useState(false);
  const quit = useQuit(deps, run, audit, () => setHelp(false), onExit);

  const usesJobLog = (id: string) => init.jobLog?.layerId === id;
  const chooseLayer = (l: Layer) => {
    setLayerId(l.id);
    setStatus(null);
    // The job log's copy step knows the destination; another layer keeps what was typed.
    if (usesJobLog(l.id)) setSources((s) => ({ ...s, dst: init.dst }));
    setScreen('sources');
  };
  const startRun = (s: RunSources) => {
    if (!layerId) return;
    setSources(s);
    setStatus(null);
    setScreen('run');
    run.start(layerId, s, (res) => {
      files.reset(res);
      setScreen((cur) => (cur === 'run' ? 'results' : cur));
    });
  };
  const doExport = () => {
    if (!run.result) return;
    setStatus({ tone: 'info', text: 'Writing the reports…' });
    deps.exportReports(run.result.report, init.exportDir).then(
      (x) => setStatus({ tone: 'ok', text: `Exported ${escapeText(x.json.replace(/\.json$/, ''))}.{json,md}` }),
      (err: unknown) => setStatus({ tone: 'error', text: `export failed: ${escapeText(oneLine(err))}` }),
    );
  };
  const base = { init, screen, setScreen, help, setHelp, status, setStatus, layers, audit, run, layerId, sources, setSources, files, quit, consoleShown, toggleConsole: () => setConsoleShown((c) => !c), chooseLayer, startRun, doExport };
  const setHandler = useSharedKeys(base, backFrom(base));
  return { ...base, setHandler };
}

export function App(props: AppProps) {
  const m = useAppModel(props);
  const helpShown = m.help && m.quit.quitting === null;
  return (
    <ColourContext.Provider value={props.colour ?? true}>
      <SizeOverride.Provider value={props.size ?? null}>
        <KeyRouter.Provider value={m.setHandler}>
          {/* The screen stays mounted under the help, so it keeps its scroll and filter. */}
          <Box flexDirection="column" display={helpShown ? 'none' : 'flex'}>
            <ScreenBody m={m} />
          </Box>
          {helpShown ? <HelpOverlay screen={m.screen} /> : null}
        </KeyRouter.Provider>
      </SizeOverride.Provider>
    </ColourContext.Provider>
  );
}
