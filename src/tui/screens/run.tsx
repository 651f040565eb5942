// Run: each step of the run's plan (booting, or reading the disk directly) with a spinner, then a
// tick or a cross and its duration; SSH attempts against the boot time; files and bytes extracted;
// classification progress; the accel used and the KVM fallback. `c` shows the guest's serial
// console (escaped: raw guest bytes). When a boot fails or times out, `d` reads the disk directly.

import type { ReactNode } from 'react';
import { Box, Text } from 'ink';
import type { DiagnoseVia } from '../../diagnose/types.js';
import { escapeText } from '../../report/escape.js';
import { humanBytes } from '../../report/format.js';
import { Frame, bodyRows, useKeys, type Status } from '../components.js';
import { stepState, type RunState, type StepState } from '../run-state.js';
import { Spinner, useNow, useTerminalSize } from '../terminal.js';
import { cell, duration, fit, shortId, wrapLines } from '../text.js';
import { Tint } from '../theme.js';
import type { RunSources } from '../types.js';

export type RunStatus = 'running' | 'done' | 'failed' | 'stopping' | 'stopped';

export interface RunProps {
  layerId: string;
  sources: RunSources;
  /** How the run on show reads the layer. */
  via: DiagnoseVia;
  state: RunState;
  status: RunStatus;
  /** The run's one-line error when it failed. */
  error: string | null;
  consoleShown: boolean;
  onToggleConsole: () => void;
  onRetry: () => void;
  /** Run again reading the disk directly (offered when a boot failed). */
  onDirect: () => void;
  onResults: () => void;
  hasResults: boolean;
  screenStatus: Status | null;
}

function progressInfo(step: string, s: StepState, st: RunState): string {
  switch (step) {
    case 'qemu': {
      const parts = [st.accel ? `accel ${st.accel}` : '', st.port ? `port ${st.port}` : ''].filter(Boolean);
      if (s.attempts > 1) parts.push(`attempt ${s.attempts}`);
      return parts.join(', ');
    }
    case 'ssh': {
      if (!st.ssh) return s.info ? escapeText(s.info) : '';
      const of = `${(st.ssh.elapsedMs / 1000).toFixed(1)} s of ${Math.round(st.ssh.bootTimeMs / 1000)} s`;
      return `attempt ${st.ssh.attempt}, ${of}${s.status === 'done' || st.ssh.result !== 'ok' ? '' : ', up'}`;
    }
    case 'extract':
      return st.extract ? `${st.extract.files} file${st.extract.files === 1 ? '' : 's'}, ${humanBytes(st.extract.bytes)}` : s.info ? escapeText(s.info) : '';
    case 'classify':
      return st.classify ? `${st.classify.done} of ${st.classify.total} files` : '';
    default:
      return s.info ? escapeText(s.info) : '';
  }
}

function StepRow({ label, step, s, st, now, columns }: { label: string; step: string; s: StepState; st: RunState; now: number; columns: number }) {
  const icon =
    s.status === 'running' ? <Spinner /> : s.status === 'done' ? <Tint color="green">✓</Tint> : s.status === 'failed' ? <Tint color="red">✗</Tint> : <Tint dim>·</Tint>;
  // `now` only makes the row redraw; the clock is read here so a step never shows a negative time.
  const ms = s.status === 'running' && s.startedAt !== undefined ? Math.max(0, Math.max(now, Date.now()) - s.startedAt) : s.ms;
  const time = ms === undefined ? '' : duration(ms);
  const labelW = 26;
  const info = s.status === 'failed' ? escapeText(s.reason ?? '') : progressInfo(step, s, st);
  return (
    <Text wrap="truncate-end">
      {icon}{' '}
      <Tint dim={s.status === 'pending'} bold={s.status === 'running'}>
        {cell(label, labelW)}
      </Tint>
      {' '}
      <Tint dim>{cell(time, 9, 'right')}</Tint>
      {'  '}
      <Tint color={s.status === 'failed' ? 'red' : undefined} dim={s.status === 'done'}>
        {fit(info, Math.max(0, columns - labelW - 14))}
      </Tint>
    </Text>
  );
}

function useRunKeys(p: RunProps) {
  useKeys((input, key) => {
    if (input === 'c') p.onToggleConsole();
    else if (input === 'r' && p.status === 'failed') p.onRetry();
    else if (input === 'd' && p.status === 'failed' && p.via === 'boot') p.onDirect();
    else if (key.return && p.hasResults) p.onResults();
    else return false;
    return true;
  });
}

/** The accelerator, the KVM fallback (whole: it says why the boot is slow) and the last notes. */
function noteLines(st: RunState, columns: number): ReactNode[] {
  const lines: ReactNode[] = [];
  if (st.accel) {
    lines.push(
      <Text key="accel" wrap="truncate-end">
        <Tint dim>Accel: </Tint>
        {`${st.accel.toUpperCase()}${st.accel === 'tcg' ? ' (emulation: slower boot)' : ''}`}
      </Text>,
    );
    if (st.accelFallback) {
      for (const [i, l] of wrapLines(escapeText(st.accelFallback), Math.max(20, columns - 2), 2).entries()) {
        lines.push(
          <Text key={`fallback${i}`} wrap="truncate-end">
            {'  '}
            <Tint color="yellow">{l}</Tint>
          </Text>,
        );
      }
    }
  }
  for (const [i, n] of st.notes.filter((x) => x !== st.accelFallback).slice(-3).entries()) {
    lines.push(
      <Text key={`note${i}`} wrap="truncate-end">
        <Tint color="yellow">note: </Tint>
        {escapeText(n)}
      </Text>,
    );
  }
  return lines;
}

function RunOutcome({ p }: { p: RunProps }) {
  if (p.status === 'failed') {
    const direct = p.via === 'boot' ? ' · d read the disk directly instead (no boot)' : '';
    return (
      <Box flexDirection="column">
        <Text wrap="wrap">
          <Tint color="red" bold>
            ✗ The run failed:{' '}
          </Tint>
          {escapeText(p.error ?? 'unknown error')}
        </Text>
        <Tint dim>{`r run again${direct} · Esc back to the sources · q quit`}</Tint>
      </Box>
    );
  }
  if (p.status === 'stopping') {
    return (
      <Text>
        <Spinner /> <Tint color="yellow">{p.via === 'direct' ? 'Stopping the run and closing the image…' : 'Stopping QEMU and removing the overlay…'}</Tint>
      </Text>
    );
  }
  if (p.status === 'done') return <Tint color="green">Done. Enter shows the results.</Tint>;
  return null;
}

function ConsoleBox({ st, rows }: { st: RunState; rows: number }) {
  const lines = st.console.slice(-Math.max(1, rows - 1));
  return (
    <Box flexDirection="column" borderStyle="single" borderDimColor flexGrow={1} overflow="hidden">
      <Text wrap="truncate-end">
        <Tint bold>Serial console</Tint>
        <Tint dim>{` (${st.console.length + st.consoleDropped} lines; raw guest bytes, escaped)`}</Tint>
      </Text>
      {lines.length === 0 ? <Tint dim>{st.accel ? '(nothing yet)' : '(no guest: nothing booted yet)'}</Tint> : null}
      {lines.map((l, i) => (
        <Text key={i} wrap="truncate-end">
          {escapeText(l)}
        </Text>
      ))}
    </Box>
  );
}

export function RunScreen(p: RunProps) {
  const { columns, rows } = useTerminalSize();
  const live = p.status === 'running' || p.status === 'stopping';
  const now = useNow(200, live);
  useRunKeys(p);
  const st = p.state;
  const lines = noteLines(st, columns);
  const hasOutcome = p.status === 'failed' || p.status === 'stopping' || p.status === 'done';
  // The console gets what is left of the screen.
  const used = 1 + st.plan.length + 1 + lines.length + (hasOutcome ? 2 : 0);
  const consoleRows = Math.max(0, bodyRows(rows, p.screenStatus !== null) - used - 2);
  return (
    <Frame
      title={`layer-forensics · Run · layer ${shortId(p.layerId)}${p.via === 'direct' ? ' · disk read directly' : ''}`}
      right={`${escapeText(p.sources.expected)} → ${escapeText(p.sources.dst)}`}
      status={p.screenStatus}
      hints={`c ${p.consoleShown ? 'hide' : 'show'} console · ${live ? 'Esc stop' : 'Esc back'}${p.hasResults ? ' · Enter results' : ''} · ? help · q quit`}
    >
      <Text> </Text>
      {st.plan.map((step) => (
        <StepRow key={step.id} label={step.label} step={step.id} s={stepState(st, step.id)} st={st} now={now} columns={columns} />
      ))}
      <Text> </Text>
      {lines}
      <RunOutcome p={p} />
      {p.consoleShown ? <ConsoleBox st={st} rows={consoleRows} /> : null}
    </Frame>
  );
}
