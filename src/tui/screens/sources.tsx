// Sources: the expected-sources directory (host) and the guest destination, prefilled from the
// flags, the job log or the defaults, editable; and how to read the layer: boot it (the default)
// or read its disk directly, then which partition holds the destination (optional: /etc/fstab or
// a search decides). A directory that does not exist is refused on the spot: the field says so as
// it is typed, and Enter will not start the run.

import { readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, resolve, sep } from 'node:path';
import { useState } from 'react';
import { Box, Text, type Key } from 'ink';
import { escapeText } from '../../report/escape.js';
import { describeFsError } from '../../util/fs-errors.js';
import { Frame, useKeys, type Status } from '../components.js';
import { typedText } from '../keys.js';
import { useTerminalSize } from '../terminal.js';
import { fitStart, shortId } from '../text.js';
import { Tint } from '../theme.js';
import type { RunSources } from '../types.js';

export interface SourcesProps {
  layerId: string;
  /** Where the layer choice came from, for the user ("from the job log, copy step 2"). */
  layerNote?: string;
  sources: RunSources;
  onChange: (v: RunSources) => void;
  /** The job log's src list, when the layer is its copy step's. */
  src?: string[];
  onStart: (v: RunSources) => void;
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
    return { ok: false, why: describeFsError(err), abs };
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

/** A partition name: a number or a disklabel letter ('' = let /etc/fstab or a search decide). */
export function checkPartition(p: string): string | null {
  const t = p.trim();
  if (t === '' || /^([0-9]{1,3}|[a-p])$/.test(t)) return null;
  return 'must be a partition number or a disklabel letter (a-p)';
}

type Field = 'expected' | 'dst' | 'via' | 'partition';
const TEXT_FIELDS: ReadonlySet<Field> = new Set(['expected', 'dst', 'partition']);

function fieldsFor(s: RunSources): Field[] {
  return s.via === 'direct' ? ['expected', 'dst', 'via', 'partition'] : ['expected', 'dst', 'via'];
}

interface Checks {
  exp: DirCheck;
  dstErr: string | null;
  partErr: string | null;
}

function checksOf(s: RunSources): Checks {
  return { exp: checkDirectory(s.expected), dstErr: checkGuestPath(s.dst), partErr: s.via === 'direct' ? checkPartition(s.partition) : null };
}

/** Enter: the first field that is wrong, with why; or null when the run can start. */
function refusal(s: RunSources, c: Checks): { field: Field; text: string } | null {
  if (!c.exp.ok) return { field: 'expected', text: `expected-sources directory ${escapeText(c.exp.abs)}: ${c.exp.why}` };
  if (c.dstErr) return { field: 'dst', text: `guest destination ${escapeText(s.dst)}: ${c.dstErr}` };
  if (c.partErr) return { field: 'partition', text: `partition ${escapeText(s.partition)}: ${c.partErr}` };
  return null;
}

/** Editing keys in a text field; true when used. */
function editKey(input: string, key: Key, value: string, set: (v: string) => void): boolean {
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
  if (t === null) return false;
  set(value + t);
  return true;
}

/** The way-in choice: Space, ← → or b / d. */
function viaKey(input: string, key: Key, s: RunSources, onChange: (v: RunSources) => void): boolean {
  let via: RunSources['via'] | null = null;
  if (input === ' ' || key.leftArrow || key.rightArrow) via = s.via === 'boot' ? 'direct' : 'boot';
  else if (input === 'b') via = 'boot';
  else if (input === 'd') via = 'direct';
  if (via === null) return false;
  onChange({ ...s, via });
  return true;
}

function useSourcesKeys(p: SourcesProps, field: Field, setField: (f: Field) => void, setLocal: (s: Status | null) => void) {
  const s = p.sources;
  const fields = fieldsFor(s);
  const at = Math.max(0, fields.indexOf(field));
  const value = field === 'via' ? '' : s[field];
  const set = (v: string) => p.onChange({ ...s, [field]: v });
  const complete = (): boolean => {
    const c = completeDirectory(s.expected);
    if (c.value === s.expected && c.candidates.length === 0) return false;
    set(c.value);
    if (c.candidates.length) setLocal({ tone: 'info', text: c.candidates.map((n) => escapeText(n)).join('  ') });
    return true;
  };
  useKeys((input, key) => {
    setLocal(null);
    if (key.return) {
      const no = refusal(s, checksOf(s));
      if (no) {
        setField(no.field);
        setLocal({ tone: 'error', text: no.text });
      } else p.onStart({ ...s, expected: checkDirectory(s.expected).abs, dst: s.dst.trim(), partition: s.partition.trim() });
      return true;
    }
    if (key.upArrow || (key.tab && key.shift)) setField(fields[Math.max(0, at - 1)]!);
    else if (key.downArrow) setField(fields[Math.min(fields.length - 1, at + 1)]!);
    else if (key.tab) {
      if (field !== 'expected' || !complete()) setField(fields[(at + 1) % fields.length]!);
    } else if (field === 'via') {
      // Letters typed here are not meant for another screen: swallowed (? and Backspace are not).
      return viaKey(input, key, s, p.onChange) || (input !== '?' && typedText(input, key) !== null);
    }
    else if (TEXT_FIELDS.has(field)) return editKey(input, key, value, set);
    return true;
  });
}

const LABEL_W = 20;

function FieldRow({ active, label, value, width }: { active: boolean; label: string; value: string; width: number }) {
  return (
    <Text wrap="truncate-end">
      <Tint bold={active}>{`${active ? '▶ ' : '  '}${label.padEnd(LABEL_W)}`}</Tint>
      <Tint underline={active}>{fitStart(escapeText(value), width - 1)}</Tint>
      {active ? <Tint inverse> </Tint> : null}
    </Text>
  );
}

function Check({ ok, text }: { ok: boolean | null; text: string }) {
  return (
    <Text wrap="truncate-end">
      {' '.repeat(LABEL_W + 2)}
      {ok === null ? <Tint dim>{text}</Tint> : ok ? <Tint color="green">{`✓ ${text}`}</Tint> : <Tint color="red" bold>{`✗ ${text}`}</Tint>}
    </Text>
  );
}

function ViaRow({ active, via }: { active: boolean; via: RunSources['via'] }) {
  const choice = (v: RunSources['via'], label: string) => (
    <Tint bold={via === v} inverse={active && via === v}>{`${via === v ? '(•)' : '( )'} ${label}`}</Tint>
  );
  return (
    <Text wrap="truncate-end">
      <Tint bold={active}>{`${active ? '▶ ' : '  '}${'Read the layer by'.padEnd(LABEL_W)}`}</Tint>
      {choice('boot', 'booting it under QEMU')}
      {'   '}
      {choice('direct', 'reading its disk directly')}
    </Text>
  );
}

const VIA_NOTE: Record<RunSources['via'], string> = {
  boot: 'The guest destination is read out of the booted layer (a throwaway overlay: the layer is never written). Space or d: read the disk directly instead.',
  direct: 'The guest destination is read from the layer’s disk in-process: no QEMU, nothing written, which layer wrote each block (FFS only).',
};

export function SourcesScreen(p: SourcesProps) {
  const { columns } = useTerminalSize();
  const [field, setField] = useState<Field>('expected');
  const [local, setLocal] = useState<Status | null>(null);
  const s = p.sources;
  const c = checksOf(s);
  useSourcesKeys(p, field, setField, setLocal);
  const valueW = Math.max(10, columns - LABEL_W - 4);
  const srcList = p.src && p.src.length ? p.src.map((x) => escapeText(x)).join(' ') : null;
  return (
    <Frame
      title={`layer-forensics · Sources · layer ${shortId(p.layerId)}`}
      status={local ?? p.status}
      hints="Enter start · Tab complete/next · ↑↓ field · Space boot/direct · Ctrl-U clear · Esc back · Ctrl-C quit"
    >
      <Text wrap="truncate-end">
        <Tint dim>Layer </Tint>
        {p.layerId}
      </Text>
      {p.layerNote ? <Tint dim>{escapeText(p.layerNote)}</Tint> : null}
      <Text> </Text>
      <FieldRow active={field === 'expected'} label="Expected sources" value={s.expected} width={valueW} />
      <Check ok={c.exp.ok} text={c.exp.ok ? `directory, ${c.exp.entries} entr${c.exp.entries === 1 ? 'y' : 'ies'}` : c.exp.why} />
      <FieldRow active={field === 'dst'} label="Guest destination" value={s.dst} width={valueW} />
      <Check ok={c.dstErr ? false : null} text={c.dstErr ?? 'where the step copied the sources in the guest'} />
      <ViaRow active={field === 'via'} via={s.via} />
      {s.via === 'direct' ? (
        <>
          <FieldRow active={field === 'partition'} label="Partition" value={s.partition} width={valueW} />
          <Check ok={c.partErr ? false : null} text={c.partErr ?? (s.partition.trim() ? 'the partition holding the destination' : 'empty: found from /etc/fstab, or by looking for the destination')} />
        </>
      ) : null}
      <Text> </Text>
      <Box flexDirection="column">
        <Text wrap="truncate-end">
          <Tint dim>{VIA_NOTE[s.via]}</Tint>
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
