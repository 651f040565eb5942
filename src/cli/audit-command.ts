// `layer-forensics audit --store S [--layer PREFIX]... [--since DATE] [--jobs N] [--no-cache] [--json] [--quiet]`
//
// Every layer of a store (or those named, or created since a date), no expected sources: what
// the layers prove about themselves (design.md section 10). A table row per layer as it
// finishes and a summary, or with --json NDJSON `layer-forensics.audit/v1` (a line per layer,
// the summary last, nothing else on stdout). Progress on stderr: a bar when stderr is a terminal,
// plain lines otherwise. Exit status (design.md section 4): 0 every layer clean, 1 any layer
// corrupt, 2 the audit could not run, 3 nothing corrupt but some layers inconclusive or unreadable;
// 130 after Ctrl-C (143 after SIGTERM), once the lines so far and a summary are out.

import type { Argv } from 'yargs';
import type { AuditLine, AuditSummary } from '../audit/types.js';
import type { AuditProgress } from '../audit/run-audit.js';
import { escapeText } from '../report/escape.js';
import { EXIT } from '../report/exit-codes.js';
import { toSafeJson } from '../report/json.js';
import { setExit } from './common.js';
import { lastString, numberOption } from './options.js';

interface Out {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** `2026-06-29T16:02:38.000Z` → `2026-06-29 16:02:38`. */
function shortTime(iso: string | null): string {
  if (!iso) return '-'.padEnd(19);
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
  return (m ? `${m[1]} ${m[2]}` : iso).padEnd(19);
}

const VERDICT_WIDTH = 'soft-updates-data-loss'.length + 1;

export const TABLE_HEADER = `${'LAYER'.padEnd(12)}  ${'CREATED (UTC)'.padEnd(19)}  ${'VERDICT'.padEnd(VERDICT_WIDTH)}  DAMAGED FILES / WHY\n`;

/** What a row says after its verdict: the damaged files, the error, or the first note. */
function rowDetail(l: AuditLine): string {
  if (l.verdict === 'error') return escapeText(l.error ?? '');
  if (l.files.length > 0) {
    const shown = l.files.slice(0, 3).map((f) => `${escapeText(f.path)} (${f.class})`);
    const more = l.files.length > 3 ? `, and ${l.files.length - 3} more` : '';
    return `${l.files.length}: ${shown.join(', ')}${more}`;
  }
  if (l.verdict === 'inconclusive') return escapeText(l.notes[0] ?? '');
  return '';
}

/** One table row (`*` after the verdict: from the cache). */
export function renderRow(l: AuditLine): string {
  const verdict = `${l.verdict}${l.cached ? '*' : ''}`.padEnd(VERDICT_WIDTH);
  return `${l.layer.slice(0, 12)}  ${shortTime(l.created)}  ${verdict}  ${rowDetail(l)}`.trimEnd() + '\n';
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** The summary after the table, and what to do about corrupt layers. */
export function renderSummary(s: AuditSummary, corrupt: readonly AuditLine[], spec: string): string {
  const lines: string[] = [''];
  const of = s.interrupted ? ` of ${s.selected} (interrupted)` : '';
  lines.push(
    `${s.layers} layer${s.layers === 1 ? '' : 's'}${of}: ${s.clean} clean, ${s.corrupt} corrupt, ${s.inconclusive} inconclusive, ${s.errors} unreadable; ${s.cached} from the cache (marked *); ${seconds(s.ms)}.`,
  );
  if (corrupt.length > 0) {
    lines.push('', 'What to do');
    lines.push('  - Delete each corrupt layer (obuilder deletes the layers built on it too) so that obuilder rebuilds it:');
    for (const l of corrupt) lines.push(`      obuilder delete --store=${escapeText(spec)} ${l.layer}`);
    lines.push('  - Make the builder run `sync` in the guest before powering it off, so data reaches the disk before a hard quit (ocurrent/obuilder#212).');
  }
  return lines.join('\n') + '\n';
}

/** The exit status of an audit (design.md section 4), 130 when it was interrupted. */
export function auditExitCode(s: AuditSummary, signal: NodeJS.Signals | null = null): number {
  if (s.interrupted) return signal === 'SIGTERM' ? 143 : 130;
  if (s.corrupt > 0) return EXIT.corrupt;
  if (s.inconclusive > 0 || s.errors > 0) return EXIT.inconclusive;
  return EXIT.clean;
}

/**
 * Progress on stderr: a bar rewritten in place on a terminal (cleared before a table row goes to
 * the same terminal), plain lines every few seconds otherwise.
 */
export class ProgressReporter {
  private readonly t0 = Date.now();
  private audited = 0;
  private firstAuditAt = 0;
  private lastPlain = 0;
  private lastDraw = 0;
  private shown = false;
  private last: AuditProgress = { done: 0, total: 0, cached: 0 };

  constructor(
    private readonly err: Out,
    private readonly quiet: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  private get tty(): boolean {
    return !this.quiet && this.err.isTTY === true;
  }

  start(total: number, jobs: number, root: string): void {
    this.last = { done: 0, total, cached: 0 };
    if (!this.quiet && !this.tty) this.err.write(`layer-forensics: auditing ${total} layer${total === 1 ? '' : 's'} of ${escapeText(root)} with ${jobs} worker${jobs === 1 ? '' : 's'}\n`);
  }

  /** Rate (layers audited per second, cache hits aside) and ETA, from what was audited so far. */
  private figures(p: AuditProgress): { rate: number; eta: number | null } {
    const since = this.firstAuditAt || this.t0;
    const secs = Math.max(0.001, (this.now() - since) / 1000);
    const rate = this.audited / secs;
    return { rate, eta: rate > 0 ? (p.total - p.done) / rate : null };
  }

  update(p: AuditProgress, line: AuditLine): void {
    if (!line.cached) {
      if (this.audited === 0) this.firstAuditAt = this.now() - line.ms;
      this.audited++;
    }
    this.last = p;
    if (this.quiet) return;
    const t = this.now();
    if (this.tty) {
      if (!this.shown || t - this.lastDraw >= 100 || p.done === p.total) this.draw();
    } else if (t - this.lastPlain >= 5000 || p.done === p.total) {
      this.lastPlain = t;
      this.err.write(`layer-forensics: ${this.text(p)}\n`);
    }
  }

  private text(p: AuditProgress): string {
    const cached = p.cached > 0 ? ` (${p.cached} cached)` : '';
    if (this.audited === 0) return `${p.done}/${p.total} layers${cached}`;
    const { rate, eta } = this.figures(p);
    const etaText = eta === null || p.done >= p.total ? '' : ` · ETA ${seconds(eta * 1000)}`;
    return `${p.done}/${p.total} layers${cached} · ${rate.toFixed(1)} layers/s${etaText}`;
  }

  private draw(): void {
    const p = this.last;
    const width = 24;
    const filled = p.total > 0 ? Math.round((p.done / p.total) * width) : width;
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const text = `${bar} ${this.text(p)}`.slice(0, Math.max(20, (this.err.columns || 80) - 1));
    this.err.write(`\r\x1b[K${text}`);
    this.lastDraw = this.now();
    this.shown = true;
  }

  /** Before writing to a terminal the bar is on. */
  clear(): void {
    if (this.shown) this.err.write('\r\x1b[K');
    this.shown = false;
  }

  done(): void {
    this.clear();
  }
}

interface AuditArgs {
  store: string;
  layer?: string[];
  since?: string;
  jobs?: number;
  cache: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** Ctrl-C and SIGTERM abort the audit (once; a second one exits at once). */
function onSignals(ac: AbortController): { signal: () => NodeJS.Signals | null; off: () => void } {
  let got: NodeJS.Signals | null = null;
  const handler = (sig: NodeJS.Signals): void => {
    if (got) process.exit(sig === 'SIGTERM' ? 143 : 130);
    got = sig;
    ac.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return { signal: () => got, off: () => (process.off('SIGINT', handler), process.off('SIGTERM', handler)) };
}

async function runAuditCommand(args: AuditArgs, out: Out = process.stdout, err: Out = process.stderr): Promise<void> {
  const { runAudit } = await import('../audit/run-audit.js');
  const { availableParallelism } = await import('node:os');
  const jobs = args.jobs ?? availableParallelism();
  const progress = new ProgressReporter(err, args.quiet === true);
  const sameTerminal = out.isTTY === true && err.isTTY === true;
  const corrupt: AuditLine[] = [];
  const ac = new AbortController();
  const sig = onSignals(ac);
  let lastLine: AuditLine | null = null;
  let root = args.store;
  try {
    const summary = await runAudit(
      { store: args.store, layers: args.layer, since: args.since, jobs, noCache: !args.cache },
      {
        signal: ac.signal,
        onWarnings: (ws) => {
          for (const w of ws) err.write(`layer-forensics: warning: ${escapeText(w)}\n`);
        },
        onStart: (info) => {
          root = info.root;
          progress.start(info.total, Math.min(jobs, Math.max(info.total, 1)), root);
          if (!args.json) out.write(TABLE_HEADER);
        },
        onLine: (line) => {
          lastLine = line;
          if (line.verdict === 'soft-updates-data-loss' || line.verdict === 'other-corruption') corrupt.push(line);
          if (sameTerminal) progress.clear();
          out.write(args.json ? `${toSafeJson(line)}\n` : renderRow(line));
        },
        onProgress: (p) => {
          if (lastLine) progress.update(p, lastLine);
        },
      },
    );
    progress.done();
    out.write(args.json ? `${toSafeJson(summary)}\n` : renderSummary(summary, corrupt, `qemu:${root}`));
    setExit(auditExitCode(summary, sig.signal()));
  } finally {
    progress.done();
    sig.off();
  }
}

function builder(y: Argv) {
  return y
    .option('store', { type: 'string', coerce: lastString, demandOption: true, requiresArg: true, describe: 'The obuilder QEMU store: qemu:/path or /path' })
    .option('layer', { type: 'string', array: true, requiresArg: true, describe: 'Only layers whose id starts with this prefix (repeatable)' })
    .option('since', { type: 'string', coerce: lastString, requiresArg: true, describe: 'Only layers created at or after this date (YYYY-MM-DD or ISO 8601, UTC)' })
    .option('jobs', { type: 'string', coerce: numberOption('jobs', { integer: true, min: 1, max: 1024 }), requiresArg: true, describe: 'Layers read in parallel, in worker threads (default: the number of cores)' })
    .option('cache', { type: 'boolean', default: true, describe: 'Use the result cache in $XDG_CACHE_HOME/layer-forensics (--no-cache: neither read nor write it)' })
    .option('json', { type: 'boolean', describe: 'NDJSON (layer-forensics.audit/v1) on stdout: a line per layer as it finishes, a summary line last' })
    .option('quiet', { type: 'boolean', describe: 'No progress on stderr' });
}

export function auditCommand<T>(y: Argv<T>) {
  return y.command(
    'audit',
    'Every layer of a store, no expected sources: what each layer proves about itself (exit 0 clean, 1 corrupt, 3 inconclusive)',
    builder,
    async (args) => {
      await runAuditCommand({ store: args.store, layer: args.layer?.map(String), since: args.since, jobs: args.jobs as number | undefined, cache: args.cache, json: args.json, quiet: args.quiet });
    },
  );
}
