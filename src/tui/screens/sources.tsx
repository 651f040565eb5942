// Sources: the expected-sources directory (host) and the guest destination, prefilled from the
// flags, the job log or the defaults, editable. A directory that does not exist is refused on
// the spot: the field says so as it is typed, and Enter will not start the run.

import { readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, resolve, sep } from 'node:path';
import { useState } from 'react';
import { Box, Text } from 'ink';
import { escapeText } from '../../report/escape.js';
import { Frame, useKeys, type Status } from '../components.js';
import { typedText } from '../keys.js';
import { useTerminalSize } from '../terminal.js';
import { fitStart, shortId } from '../text.js';
import { Tint } from '../theme.js';

export interface SourcesProps {
  layerId: string;
  /** Where the layer choice came from, for the user ("from the job log, copy step 2"). */
  layerNote?: string;
  expected: string;
  dst: string;
  onChange: (v: { expected: string; dst: string }) => void;
  /** The job log's src list, when the layer is its copy step's. */
  src?: string[];
  onStart: (v: { expected: string; dst: string }) => void;
  status: Status | null;
}

export function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? `${homedir()}${p.slice(1)}` : p;
}

export type DirCheck = { ok: true; entries: number; abs: string } | { ok: false; why: string; abs: string };

/** Is `p` an existing, readable directory? */
export function checkDirectory(p: string): DirCheck {
  const abs = resolve(expandHome(p.trim() || '.'));
  if (!p.trim()) return { ok: false, why: 'is empty', abs };
  try {
    if (!statSync(abs).isDirectory()) return { ok: false, why: 'is not a directory', abs };
    return { ok: true, entries: readdirSync(abs).length, abs };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, why: code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : 'cannot be read', abs };
  }
}

/** A guest path must be absolute: `/home/opam/src`, or `C:\...` on Windows guests. */
export function checkGuestPath(p: string): string | null {
  const t = p.trim();
  if (!t) return 'is empty';
  if (!t.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(t)) return 'must be an absolute guest path';
  return null;
}

/** Complete a host directory path: the common prefix of the matching subdirectories. */
export function completeDirectory(p: string): { value: string; candidates: string[] } {
  const full = expandHome(p);
  const endsSep = full.endsWith('/') || full.endsWith(sep);
  const dir = endsSep ? full : dirname(full);
  const prefix = endsSep ? '' : full.slice(dir.length + (dir.endsWith('/') ? 0 : 1));
  let names: string[];
  try {
    names = readdirSync(resolve(dir || '.'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name.startsWith(prefix) && (prefix.startsWith('.') || !d.name.startsWith('.')))
      .map((d) => d.name)
      .sort();
  } catch {
    return { value: p, candidates: [] };
  }
  if (names.length === 0) return { value: p, candidates: [] };
  let common = names[0]!;
  for (const n of names) while (!n.startsWith(common)) common = common.slice(0, -1);
  const head = p.slice(0, p.length - prefix.length);
  const value = names.length === 1 ? `${head}${common}/` : `${head}${common}`;
  return { value, candidates: names.length > 1 ? names : [] };
}

export function SourcesScreen(p: SourcesProps) {
  const { columns } = useTerminalSize();
  const [field, setField] = useState<0 | 1>(0);
  const [local, setLocal] = useState<Status | null>(null);
  const exp = checkDirectory(p.expected);
  const dstErr = checkGuestPath(p.dst);

  const set = (value: string) => p.onChange(field === 0 ? { expected: value, dst: p.dst } : { expected: p.expected, dst: value });
  const value = field === 0 ? p.expected : p.dst;

  useKeys((input, key) => {
    setLocal(null);
    if (key.return) {
      if (!exp.ok) {
        setField(0);
        setLocal({ tone: 'error', text: `expected-sources directory ${escapeText(exp.abs)}: ${exp.why}` });
      } else if (dstErr) {
        setField(1);
        setLocal({ tone: 'error', text: `guest destination ${escapeText(p.dst)}: ${dstErr}` });
      } else p.onStart({ expected: exp.abs, dst: p.dst.trim() });
      return true;
    }
    if (key.upArrow || (key.tab && key.shift)) {
      setField(0);
      return true;
    }
    if (key.downArrow) {
      setField(1);
      return true;
    }
    if (key.tab) {
      if (field === 0) {
        const c = completeDirectory(p.expected);
        if (c.value !== p.expected || c.candidates.length > 0) {
          set(c.value);
          if (c.candidates.length) setLocal({ tone: 'info', text: c.candidates.map((n) => escapeText(n)).join('  ') });
          return true;
        }
      }
      setField(field === 0 ? 1 : 0);
      return true;
    }
    if (key.backspace || key.delete) {
      // Backspace in an empty field goes back, as on every screen.
      if (value === '') return false;
      set(value.slice(0, -1));
      return true;
    }
    if (key.ctrl && input === 'u') {
      set('');
      return true;
    }
    if (input === '?') return false;
    const t = typedText(input, key);
    if (t !== null) {
      set(value + t);
      return true;
    }
    return false;
  });

  const labelW = 20;
  const valueW = Math.max(10, columns - labelW - 4);
  const fieldRow = (i: 0 | 1, label: string, v: string) => {
    const active = field === i;
    return (
      <Text wrap="truncate-end">
        <Tint bold={active}>{`${active ? '▶ ' : '  '}${label.padEnd(labelW)}`}</Tint>
        <Tint underline={active}>{fitStart(escapeText(v), valueW - 1)}</Tint>
        {active ? <Tint inverse> </Tint> : null}
      </Text>
    );
  };

  const srcList = p.src && p.src.length ? p.src.map((s) => escapeText(s)).join(' ') : null;
  return (
    <Frame
      title={`layer-forensics · Sources · layer ${shortId(p.layerId)}`}
      status={local ?? p.status}
      hints="Enter start · Tab complete/next · ↑↓ field · Ctrl-U clear · Esc back · Ctrl-C quit"
    >
      <Text wrap="truncate-end">
        <Tint dim>Layer </Tint>
        {p.layerId}
      </Text>
      {p.layerNote ? (
        <Text wrap="truncate-end">
          <Tint dim>{escapeText(p.layerNote)}</Tint>
        </Text>
      ) : null}
      <Text> </Text>
      {fieldRow(0, 'Expected sources', p.expected)}
      <Text wrap="truncate-end">
        {' '.repeat(labelW + 2)}
        {exp.ok ? (
          <Tint color="green">{`✓ directory, ${exp.entries} entr${exp.entries === 1 ? 'y' : 'ies'}`}</Tint>
        ) : (
          <Tint color="red" bold>{`✗ ${exp.why}`}</Tint>
        )}
      </Text>
      {fieldRow(1, 'Guest destination', p.dst)}
      <Text wrap="truncate-end">
        {' '.repeat(labelW + 2)}
        {dstErr ? <Tint color="red" bold>{`✗ ${dstErr}`}</Tint> : <Tint dim>where the step copied the sources in the guest</Tint>}
      </Text>
      <Text> </Text>
      <Box flexDirection="column">
        <Text wrap="truncate-end">
          <Tint dim>The expected sources are the host copy of what the step copied; the guest destination is read out of the booted layer.</Tint>
        </Text>
        {srcList ? (
          <Text wrap="truncate-end">
            <Tint dim>Copied by the step: </Tint>
            {srcList}
          </Text>
        ) : null}
      </Box>
    </Frame>
  );
}
