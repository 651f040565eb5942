// Parsing CI job logs (ocaml-ci, opam-repo-ci) for the steps obuilder ran (design.md section 2):
//
//   Building on openbsd-amd64-1
//   (from openbsd-78-amd64-ocaml-5.5)
//   2026-06-29 16:01.11 ---> using "<64 hex>" from cache
//   /: (copy (src tls.opam tls-async.opam)
//            (dst /home/opam/src/./))
//   2026-06-29 16:02.38 ---> saved as "<64 hex>"
//
// An op starts with `<workdir>: (` and may wrap over several lines: parentheses are balanced
// across lines, outside quoted strings. The `--->` line after a step names the layer it produced.
// The "Using OBuilder spec:" dump at the top of ocaml-ci logs is not mistaken for steps: its lines
// carry no `<workdir>: ` prefix, and its `(from` is written `((from`.

import { readFile, stat } from 'node:fs/promises';
import { stripVTControlCharacters } from 'node:util';
import { UserError } from '../util/errors.js';
import { describeFsError } from '../util/fs-errors.js';

export type StepOp = 'from' | 'copy' | 'run' | 'env' | 'user' | 'workdir' | 'shell' | 'comment' | (string & {});

export interface Step {
  /** 1-based position among all steps of the log. */
  index: number;
  op: StepOp;
  /** The op as logged, wrapped lines joined with single spaces (`(copy (src a b) (dst /x/./))`). */
  text: string;
  /** The layer the step produced, from the `--->` line that follows it; null when none did. */
  layerId: string | null;
  /** `using ... from cache` (true), `saved as` (false), or null without a `--->` line. */
  cached: boolean | null;
  /** The workdir the op ran in (`/` in `/: (copy ...)`); null for `from`. */
  workdir: string | null;
  /** Copy steps: 1-based position among the copy steps (what `--step N` counts). */
  copyIndex?: number;
  /** Copy steps: the `src` list. */
  src?: string[];
  /**
   * Copy steps: the `dst`, normalised (`/home/opam/src/./` → `/home/opam/src`); a relative dst
   * is taken relative to the step's workdir.
   */
  dst?: string;
  /** Copy steps: the `dst` exactly as logged. */
  dstRaw?: string;
  /**
   * Copy steps: whether the sources go INTO `dst` (it ends in `/` or `/.`, or there are several
   * sources), rather than a single source being copied TO the path `dst`.
   */
  dstIsDir?: boolean;
  /** Copy steps: the `exclude` list, when given. */
  exclude?: string[];
  /** The base image of the most recent `(from ...)` before this step. */
  from?: string | null;
  /** 1-based line of the log where the op starts. */
  line: number;
}

export interface ParsedJobLog {
  /** Host from `Building on <host>`. */
  worker: string | null;
  /**
   * The commit of the sources the job tested, from ocaml-ci's header
   * (`from https://github.com/o/r.git#ref (<40 hex>)`), or null.
   */
  commit: string | null;
  /** The base from the first `(from <base>)` step. */
  base: string | null;
  steps: Step[];
}

/** Ops that produce a layer (and so are followed by a `--->` line). */
const LAYER_OPS = new Set(['from', 'run', 'copy']);
/** How many lines an op may wrap over before it is taken as unbalanced. */
const MAX_OP_LINES = 500;
/** Largest job log read. */
export const MAX_JOB_LOG_BYTES = 256 * 1024 * 1024;

/** `<workdir>: (<op>`: the workdir is absolute (`/...`, or `C:\...` / `C:/...` on Windows). */
const OP_START_RE = /^(\/\S*?|[A-Za-z]:[\\/]\S*?): (\((?:copy|run|env|user|workdir|shell|comment)(?=[\s)]|$).*)$/;
const FROM_RE = /^\(from\s+(.+?)\)\s*$/;
const ARROW_RE = /--->\s+(?:saved as "([0-9a-f]{64})"|using "([0-9a-f]{64})" from cache)/;
const BUILDING_ON_RE = /^Building on (\S+)/;
/** ocaml-ci's header: `from <repository url>#<ref> (<commit>)`. */
const COMMIT_RE = /^\s*from \S+ \(([0-9a-f]{40})\)\s*$/;

/** Remove ANSI escape sequences and every `\r`. */
export function stripAnsi(s: string): string {
  return stripVTControlCharacters(s).replace(/\r/g, '');
}

/** `/home/opam/src/./` → `/home/opam/src`; `.` and empty segments dropped, `..` applied. */
export function normaliseGuestPath(p: string): string {
  const absolute = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
      continue;
    }
    out.push(seg);
  }
  const joined = out.join('/');
  return absolute ? `/${joined}` : joined === '' ? '.' : joined;
}

/** Paren depth change over `s`, outside quoted strings; `inString` carries over between lines. */
function scanDepth(s: string, state: { depth: number; inString: boolean }): void {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (state.inString) {
      if (c === '\\') i++;
      else if (c === '"') state.inString = false;
    } else if (c === '"') state.inString = true;
    else if (c === '(') state.depth++;
    else if (c === ')') state.depth--;
  }
}

type Sexp = string | Sexp[];

/** A small s-expression reader (atoms, quoted strings with escapes, lists). Lenient on junk. */
export function parseSexp(text: string): Sexp | null {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const read = (): Sexp | null => {
    ws();
    if (i >= text.length) return null;
    const c = text[i];
    if (c === '(') {
      i++;
      const list: Sexp[] = [];
      for (;;) {
        ws();
        if (i >= text.length) return list;
        if (text[i] === ')') {
          i++;
          return list;
        }
        const item = read();
        if (item === null) return list;
        list.push(item);
      }
    }
    if (c === ')') {
      i++;
      return read();
    }
    if (c === '"') {
      i++;
      let s = '';
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) {
          const e = text[i + 1] as string;
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
          i += 2;
        } else {
          s += text[i];
          i++;
        }
      }
      i++;
      return s;
    }
    let s = '';
    while (i < text.length && !/[\s()"]/.test(text[i] as string)) s += text[i++];
    return s;
  };
  return read();
}

function field(list: Sexp[], name: string): Sexp[] | null {
  for (const item of list) {
    if (Array.isArray(item) && item[0] === name) return item.slice(1);
  }
  return null;
}

/**
 * Parse the text of a job log. Pure: no file access. ANSI escapes and `\r` are stripped first;
 * line numbers are those of the original text.
 */
/** An op that may wrap over several lines: its text joined, and the last line it takes. */
function readOp(lines: string[], n: number, first: string): { text: string; end: number } {
  const parts = [first.trim()];
  const state = { depth: 0, inString: false };
  scanDepth(first, state);
  let end = n;
  while (state.depth > 0 && end + 1 < lines.length && end - n < MAX_OP_LINES) {
    const next = lines[end + 1] as string;
    // Unbalanced op: stop before the next step or `--->` rather than swallow the log.
    if (ARROW_RE.test(next) || OP_START_RE.test(next) || FROM_RE.test(next)) break;
    end++;
    parts.push(next.trim());
    scanDepth(next, state);
  }
  return { text: parts.join(' '), end };
}

/** A copy step's src, exclude and dst (a relative dst is relative to the workdir). */
function addCopyFields(step: Omit<Step, 'index'>, list: Sexp[], workdir: string): void {
  const src = field(list, 'src') ?? [];
  step.src = src.filter((s): s is string => typeof s === 'string');
  const exclude = field(list, 'exclude');
  if (exclude) step.exclude = exclude.filter((s): s is string => typeof s === 'string');
  const dst = field(list, 'dst')?.[0];
  if (typeof dst === 'string') {
    step.dstRaw = dst;
    const full = dst.startsWith('/') || !workdir.startsWith('/') ? dst : `${workdir}/${dst}`;
    step.dst = normaliseGuestPath(full);
    step.dstIsDir = /(?:^|\/)\.?$/.test(dst) || step.src.length !== 1;
  }
}

/** The state of a parse: what the lines seen so far said. */
interface ParseState {
  steps: Step[];
  worker: string | null;
  commit: string | null;
  base: string | null;
  currentFrom: string | null;
  copies: number;
}

function push(st: ParseState, step: Omit<Step, 'index'>): void {
  st.steps.push({ index: st.steps.length + 1, ...step });
}

/** A line that is not an op: a `--->` arrow, `Building on`, the commit, a `(from ...)`. True when taken. */
function takeMarker(st: ParseState, line: string, n: number): boolean {
  const arrow = ARROW_RE.exec(line);
  if (arrow) {
    const id = arrow[1] ?? arrow[2] ?? null;
    // The `--->` line names the layer of the step just logged (its output may come between).
    const last = st.steps[st.steps.length - 1];
    if (last && LAYER_OPS.has(last.op) && last.layerId === null) {
      last.layerId = id;
      last.cached = arrow[2] !== undefined;
    }
    return true;
  }
  const building = BUILDING_ON_RE.exec(line);
  if (building) {
    st.worker ??= building[1] ?? null;
    return true;
  }
  const commit = COMMIT_RE.exec(line);
  if (commit && st.steps.length === 0) {
    st.commit ??= commit[1] ?? null;
    return true;
  }
  const from = FROM_RE.exec(line);
  if (from) {
    const name = (from[1] as string).trim();
    st.currentFrom = name;
    st.base ??= name;
    push(st, { op: 'from', text: line.trim(), layerId: null, cached: null, workdir: null, from: name, line: n + 1 });
    return true;
  }
  return false;
}

export function parseJobLog(text: string): ParsedJobLog {
  const lines = text.split('\n').map(stripAnsi);
  const st: ParseState = { steps: [], worker: null, commit: null, base: null, currentFrom: null, copies: 0 };
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n] as string;
    if (takeMarker(st, line, n)) continue;
    const start = OP_START_RE.exec(line);
    if (!start) continue;
    const workdir = start[1] as string;
    const { text: opText, end } = readOp(lines, n, start[2] as string);
    const sexp = parseSexp(opText);
    const list = Array.isArray(sexp) ? sexp : [];
    const op = typeof list[0] === 'string' ? list[0] : 'unknown';
    const step: Omit<Step, 'index'> = { op, text: opText, layerId: null, cached: null, workdir, from: st.currentFrom, line: n + 1 };
    if (op === 'copy') {
      step.copyIndex = ++st.copies;
      addCopyFields(step, list, workdir);
    }
    push(st, step);
    n = end;
  }
  return { worker: st.worker, commit: st.commit, base: st.base, steps: st.steps };
}

/** Read and parse a job log file. Throws `UserError` naming the file when it cannot be read. */
export async function readJobLog(file: string): Promise<ParsedJobLog> {
  let size: number;
  try {
    const st = await stat(file);
    if (st.isDirectory()) throw new UserError(`job log ${file}: is a directory`);
    size = st.size;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`job log ${file}: ${describeFsError(err)}`);
  }
  if (size > MAX_JOB_LOG_BYTES) {
    throw new UserError(`job log ${file}: too large (${size} bytes, the limit is ${MAX_JOB_LOG_BYTES})`);
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UserError(`job log ${file}: ${describeFsError(err)}`);
  }
  return parseJobLog(text);
}

/** The copy steps of a parsed log, in order. */
export function copySteps(parsed: ParsedJobLog): Step[] {
  return parsed.steps.filter((s) => s.op === 'copy');
}

/**
 * Pick the copy step to diagnose.
 *
 * `step` counts COPY steps only, 1-based: `--step 1` is the first `(copy ...)` in the log, not
 * the first step of any kind. Without `step`, the last copy step that has a layer id (a
 * `---> saved as` or `---> using ... from cache` line) is picked.
 *
 * Throws `UserError`: "job log <file>: no copy step found", "job log <file>: copy step N not
 * found (it has K)", "job log <file>: copy step N has no layer id".
 */
export function pickCopyStep(parsed: ParsedJobLog, file: string, step?: number): Step & { layerId: string } {
  const copies = copySteps(parsed);
  if (copies.length === 0) throw new UserError(`job log ${file}: no copy step found`);
  let chosen: Step;
  if (step !== undefined) {
    if (!Number.isInteger(step) || step < 1) {
      throw new UserError(`job log ${file}: copy step ${step} is not valid (steps count from 1)`);
    }
    const s = copies[step - 1];
    if (!s) {
      throw new UserError(
        `job log ${file}: copy step ${step} not found (it has ${copies.length} copy step${copies.length === 1 ? '' : 's'})`,
      );
    }
    chosen = s;
  } else {
    chosen = [...copies].reverse().find((s) => s.layerId !== null) ?? (copies[copies.length - 1] as Step);
  }
  if (chosen.layerId === null) {
    throw new UserError(`job log ${file}: copy step ${chosen.copyIndex ?? '?'} has no layer id (no "---> saved as" line after line ${chosen.line})`);
  }
  return chosen as Step & { layerId: string };
}
