// Screen routing: which screen is on show, and what each gets of the App's state. One small
// component per screen maps the App's model to the screen's props.

import type { Dispatch, SetStateAction } from 'react';
import { Text } from 'ink';
import { escapeText } from '../report/escape.js';
import { damagedFirst } from '../report/format.js';
import type { Layer } from '../store/store.js';
import type { KeyHandler, Status } from './components.js';
import type { AuditRun } from './hooks/use-audit.js';
import type { FileNav } from './hooks/use-file-nav.js';
import type { LayerList } from './hooks/use-layers.js';
import type { Quit } from './hooks/use-quit.js';
import type { RunHandle } from './hooks/use-run.js';
import type { ScreenName } from './keys.js';
import { FileScreen } from './screens/file.js';
import { LayersScreen } from './screens/layers.js';
import { ResultsScreen, fileMatches } from './screens/results.js';
import { RunScreen } from './screens/run.js';
import { SourcesScreen } from './screens/sources.js';
import { shortId } from './text.js';
import { Tint } from './theme.js';
import type { RunSources, TuiInit } from './types.js';

export interface AppModel {
  init: TuiInit;
  screen: ScreenName;
  setScreen: Dispatch<SetStateAction<ScreenName>>;
  help: boolean;
  setHelp(on: boolean): void;
  status: Status | null;
  setStatus(s: Status | null): void;
  layers: LayerList;
  audit: AuditRun;
  run: RunHandle;
  layerId: string | null;
  sources: RunSources;
  setSources(s: RunSources): void;
  consoleShown: boolean;
  toggleConsole(): void;
  files: FileNav;
  quit: Quit;
  chooseLayer(l: Layer): void;
  startRun(s: RunSources): void;
  doExport(): void;
  setHandler(h: KeyHandler | null): void;
}

function LayersRoute({ m }: { m: AppModel }) {
  const l = m.layers;
  return (
    <LayersScreen
      store={m.init.store}
      layers={l.layers}
      error={l.error}
      selected={l.selected}
      onSelect={l.select}
      filter={l.filter}
      onFilter={l.setFilter}
      jobLogLayer={m.init.jobLog?.layerId}
      audits={l.audits}
      audit={m.audit}
      auditCacheError={l.auditCacheError}
      onAudit={m.audit.start}
      onStopAudit={() => void m.audit.stop()}
      status={m.status}
      onChoose={m.chooseLayer}
    />
  );
}

function SourcesRoute({ m, layerId }: { m: AppModel; layerId: string }) {
  const jl = m.init.jobLog?.layerId === layerId ? m.init.jobLog : undefined;
  return (
    <SourcesScreen
      layerId={layerId}
      layerNote={jl ? `from the job log ${jl.file}${jl.copyIndex ? `, copy step ${jl.copyIndex}` : ''}` : undefined}
      sources={m.sources}
      onChange={m.setSources}
      src={jl?.src}
      status={m.status}
      onStart={m.startRun}
    />
  );
}

function RunRoute({ m, layerId }: { m: AppModel; layerId: string }) {
  const r = m.run;
  return (
    <RunScreen
      layerId={layerId}
      sources={m.sources}
      via={r.via}
      state={r.state}
      status={r.status}
      error={r.error}
      consoleShown={m.consoleShown}
      onToggleConsole={m.toggleConsole}
      onRetry={() => m.startRun(m.sources)}
      onDirect={() => m.startRun({ ...m.sources, via: 'direct' })}
      onResults={() => m.setScreen('results')}
      hasResults={r.result !== null}
      screenStatus={m.status}
    />
  );
}

function FileRoute({ m }: { m: AppModel }) {
  const result = m.run.result!;
  const open = m.files.open!;
  const visible = damagedFirst(result.report.files).filter((f) => fileMatches(f, m.files.filter));
  const i = visible.findIndex((f) => f.path === open.path);
  return (
    <FileScreen
      file={open}
      position={`${escapeText(open.path)} (${i + 1} of ${visible.length})`}
      expected={result.expected}
      actual={result.actual}
      blockSize={result.report.extraction.blockSize}
      layerId={result.report.layer?.id}
      chain={result.report.layer?.chain}
      status={m.status}
      onExport={m.doExport}
      onNext={(d) => {
        const next = visible[i + d];
        if (next) {
          m.files.setOpen(next);
          m.files.select(next.path);
        }
      }}
    />
  );
}

export function ScreenBody({ m }: { m: AppModel }) {
  const { screen, layerId } = m;
  const result = m.run.result;
  if (m.quit.quitting !== null) return <Tint color="yellow">{m.quit.quitting}</Tint>;
  if (screen === 'layers') return <LayersRoute m={m} />;
  if (screen === 'sources' && layerId) return <SourcesRoute m={m} layerId={layerId} />;
  if (screen === 'run' && layerId) return <RunRoute m={m} layerId={layerId} />;
  if (screen === 'results' && result) {
    const f = m.files;
    const open = (file: typeof f.open) => {
      f.setOpen(file);
      m.setStatus(null);
      m.setScreen('file');
    };
    return <ResultsScreen result={result} selected={f.selected} onSelect={f.select} filter={f.filter} onFilter={f.setFilter} onOpen={open} onExport={m.doExport} status={m.status} />;
  }
  if (screen === 'file' && result && m.files.open) return <FileRoute m={m} />;
  return <Text>{layerId ? `layer ${shortId(layerId)}` : 'no layer chosen'}</Text>;
}
