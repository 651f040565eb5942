// Run: each step of the pipeline with a spinner, then a tick or a cross and its duration; SSH
// attempts against the boot time; files and bytes extracted; classification progress; the
// accel used and the KVM fallback. `c` shows the guest's serial console (escaped: raw guest bytes).

import type { ReactNode } from 'react';
import { Box, Text } from 'ink';
import { escapeText } from '../../report/escape.js';
import { humanBytes } from '../../report/format.js';
import { Frame, bodyRows, useKeys, type Status } from '../components.js';
import { STEPS, STEP_LABEL, type RunState, type StepState } from '../run-state.js';
import { Spinner, useNow, useTerminalSize } from '../terminal.js';
import { cell, duration, fit, shortId, wrapLines } from '../text.js';
import { Tint } from '../theme.js';
import type { DiagnoseStep } from '../../diagnose/types.js';

export type RunStatus = 'running' | 'done' | 'failed' | 'stopping' | 'stopped';

export interface RunProps {
  layerId: string;
  expected: string;
  dst: string;
  state: RunState;
  status: RunStatus;
  /** The run's one-line error when it failed. */
  error: string | null;
  consoleShown: boolean;
  onToggleConsole: () => void;
  onRetry: () => void;
  onResults: () => void;
  hasResults: boolean;
  screenStatus: Status | null;
}

function progressInfo(step: DiagnoseStep, s: StepState, st: RunState): string {
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

function StepRow({ step, s, st, now, columns }: { step: DiagnoseStep; s: StepState; st: RunState; now: number; columns: number }) {
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
        {cell(STEP_LABEL[step], labelW)}
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

export function RunScreen(p: RunProps) {
  const { columns, rows } = useTerminalSize();
  const live = p.status === 'running' || p.status === 'stopping';
  const now = useNow(200, live);

  useKeys((input, key) => {
    if (input === 'c') {
      p.onToggleConsole();
      return true;
    }
    if (input === 'r' && p.status === 'failed') {
      p.onRetry();
      return true;
    }
    if (key.return && p.hasResults) {
      p.onResults();
      return true;
    }
    return false;
  });

  const st = p.state;
  const lines: ReactNode[] = [];
  const accel = st.accel ? `${st.accel.toUpperCase()}${st.accel === 'tcg' ? ' (emulation: slower boot)' : ''}` : null;
  const stepRows = STEPS.map((step) => <StepRow key={step} step={step} s={st.steps[step]} st={st} now={now} columns={columns} />);

  if (accel) {
    lines.push(
      <Text key="accel" wrap="truncate-end">
        <Tint dim>Accel: </Tint>
        {accel}
      </Text>,
    );
    // The KVM fallback, whole: it says why the boot is slow.
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
  const otherNotes = st.notes.filter((n) => n !== st.accelFallback);
  for (const [i, n] of otherNotes.slice(-3).entries()) {
    lines.push(
      <Text key={`note${i}`} wrap="truncate-end">
        <Tint color="yellow">note: </Tint>
        {escapeText(n)}
      </Text>,
    );
  }
  let outcome: ReactNode = null;
  if (p.status === 'failed') {
    outcome = (
      <Box flexDirection="column">
        <Text wrap="wrap">
          <Tint color="red" bold>
            ✗ The run failed:{' '}
          </Tint>
          {escapeText(p.error ?? 'unknown error')}
        </Text>
        <Tint dim>r run again · Esc back to the sources · q quit</Tint>
      </Box>
    );
  } else if (p.status === 'stopping') {
    outcome = (
      <Text>
        <Spinner /> <Tint color="yellow">Stopping QEMU and removing the overlay…</Tint>
      </Text>
    );
  } else if (p.status === 'done') {
    outcome = <Tint color="green">Done. Enter shows the results.</Tint>;
  }

  // The console gets what is left of the screen.
  const status = p.screenStatus;
  const used = 1 + STEPS.length + 1 + lines.length + (outcome ? 2 : 0);
  const consoleRows = Math.max(0, bodyRows(rows, status !== null) - used - 2);
  const consoleLines = st.console.slice(-Math.max(1, consoleRows - 1));

  return (
    <Frame
      title={`layer-forensics · Run · layer ${shortId(p.layerId)}`}
      right={`${escapeText(p.expected)} → ${escapeText(p.dst)}`}
      status={status}
      hints={`c ${p.consoleShown ? 'hide' : 'show'} console · ${live ? 'Esc stop' : 'Esc back'}${p.hasResults ? ' · Enter results' : ''} · ? help · q quit`}
    >
      <Text> </Text>
      {stepRows}
      <Text> </Text>
      {lines}
      {outcome}
      {p.consoleShown ? (
        <Box flexDirection="column" borderStyle="single" borderDimColor flexGrow={1} overflow="hidden">
          <Text wrap="truncate-end">
            <Tint bold>Serial console</Tint>
            <Tint dim>{` (${st.console.length + st.consoleDropped} lines; raw guest bytes, escaped)`}</Tint>
          </Text>
          {consoleLines.length === 0 ? <Tint dim>(nothing yet)</Tint> : null}
          {consoleLines.map((l, i) => (
            <Text key={i} wrap="truncate-end">
              {escapeText(l)}
            </Text>
          ))}
        </Box>
      ) : null}
    </Frame>
  );
}
