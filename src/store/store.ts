// An obuilder QEMU store (design.md section 2), read-only:
//
//   base-image/<name>.qcow2          base images
//   result/<id>/rootfs/image.qcow2   one layer per build, backed by its parent's image or a base
//   result/<id>/log                  the step's output
//   state/db.sqlite                  builds(id, created, used, rc, parent)
//
// Metadata comes from the db when there is one, else from the qcow2 headers (the parent is the
// layer the backing file names) and the image's mtime. Nothing in the store is written.

import { readdir, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { UserError } from '../util/errors.js';
import { mapPool } from '../util/pool.js';
import { ChainError, resolveChain, storePathOf, type ChainLink } from './chain.js';
import { readBuildsDb, type BuildRow } from './metadata-db.js';
import { readQcow2Header, type Qcow2Header } from '../image/qcow2-header.js';

const ID_RE = /^[0-9a-f]{64}$/;

export interface Layer {
  /** 64 hex chars: the directory name under `result/`. */
  id: string;
  /** The parent layer's id, or null when the layer sits directly on a base image (or is unknown). */
  parent: string | null;
  /** `<name>` of `base-image/<name>.qcow2` at the end of the chain, or null when not known. */
  base: string | null;
  /** ISO 8601: the db's `created`, else the image's mtime; null when neither is known. */
  created: string | null;
  /** Images in the chain, the layer and the base included (only those resolved, when broken). */
  chainDepth: number;
  /** Absolute path of the layer's own image (`<root>/result/<id>/rootfs/image.qcow2`). */
  image: string;
  /** Absolute paths, the layer first, the base last (a prefix of it when `chainError` is set). */
  chain: string[];
  /** Each link of `chain`, with its recorded backing path and format and how it was resolved. */
  links: ChainLink[];
  /** Bytes the layer's own image holds on disk (st_blocks * 512); 0 when there is no image. */
  bytes: number;
  /** `<root>/result/<id>/log` when present. */
  log: string | null;
  /** The db's `rc` column (obuilder's count of builds using this one as parent), null without a row. */
  rc: number | null;
  /** ISO 8601 of the db's `used` column, null without a row. */
  used: string | null;
  /** Whether state/db.sqlite has a row for this layer. */
  inDb: boolean;
  /** Set when the layer's image or chain cannot be used: the one-line reason. */
  chainError?: string;
  /** Disagreements worth a look (db parent vs backing file, ...). */
  warnings?: string[];
}

/** A layer whose chain resolved (what `getLayer` returns). */
export type ResolvedLayer = Layer & { chainError?: undefined };

export interface Store {
  /** The spec as given (`qemu:/path` or `/path`). */
  readonly spec: string;
  /** Absolute path of the store root. */
  readonly root: string;
  /** `<root>/state/db.sqlite` when it exists, else null. */
  readonly dbPath: string | null;
  /** Problems met while reading metadata (an unreadable db, ...), for stderr. */
  readonly warnings: readonly string[];
  /** Every layer: `result/<id>` directories and db rows, newest first. Broken ones carry `chainError`. */
  listLayers(): Promise<Layer[]>;
  /**
   * One layer by id or unique prefix, its chain resolved. Throws `UserError` for an unknown id,
   * an ambiguous prefix, a missing image or a broken chain.
   */
  getLayer(idOrPrefix: string): Promise<ResolvedLayer>;
  /** Layer ids that start with `prefix` (lower-case hex), sorted. */
  matchIds(prefix: string): Promise<string[]>;
  /** The layers built on `id`, at any depth (what `obuilder delete` removes with it). */
  descendants(id: string): Promise<string[]>;
  /** `<root>/result/<id>/rootfs/image.qcow2`. */
  imagePath(id: string): string;
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

async function statOrNull(p: string): Promise<Stats | null> {
  try {
    return await stat(p);
  } catch {
    return null;
  }
}

async function isDir(p: string): Promise<boolean> {
  return (await statOrNull(p))?.isDirectory() ?? false;
}

/** The path part of a store spec: `qemu:/path` or `/path`. Other obuilder backends are refused. */
export function parseStoreSpec(spec: string): string {
  if (typeof spec !== 'string') throw new UserError('--store: no store given (qemu:/path or /path)');
  const m = /^(qemu|btrfs|zfs|rsync|xfs|docker|overlayfs):(.*)$/.exec(spec);
  if (m && m[1] !== 'qemu') {
    throw new UserError(`store ${spec}: only qemu: stores are supported, not ${m[1]}:`);
  }
  const p = m ? (m[2] ?? '') : spec;
  if (p.trim() === '') throw new UserError(`store ${JSON.stringify(spec)}: no path given`);
  return p;
}

/**
 * Open an obuilder QEMU store given as `qemu:/path` or `/path`. Throws `UserError` when the path
 * is missing, is not a directory, or has neither `result/` nor `base-image/`.
 */
export async function openStore(spec: string): Promise<Store> {
  const given = parseStoreSpec(spec);
  const root = path.resolve(given);
  let st: Stats;
  try {
    st = await stat(root);
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UserError(`store ${root}: does not exist`);
    if (code === 'EACCES' || code === 'EPERM') throw new UserError(`store ${root}: permission denied`);
    throw new UserError(`store ${root}: cannot read (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!st.isDirectory()) throw new UserError(`store ${root}: not a directory`);
  const hasResult = await isDir(path.join(root, 'result'));
  const hasBase = await isDir(path.join(root, 'base-image'));
  if (!hasResult && !hasBase) {
    throw new UserError(`store ${root}: not an obuilder QEMU store (no result/ or base-image/)`);
  }
  const dbFile = path.join(root, 'state', 'db.sqlite');
  const dbSt = await statOrNull(dbFile);
  return new QemuStore(spec, root, dbSt?.isFile() ? dbFile : null);
}

class QemuStore implements Store {
  private db: Map<string, BuildRow> | null = null;
  private readonly warningList: string[] = [];

  constructor(
    readonly spec: string,
    readonly root: string,
    readonly dbPath: string | null,
  ) {}

  get warnings(): readonly string[] {
    return this.warningList;
  }

  imagePath(id: string): string {
    return path.join(this.root, 'result', id, 'rootfs', 'image.qcow2');
  }

  private rows(): Map<string, BuildRow> {
    if (!this.db) {
      if (this.dbPath) {
        const read = readBuildsDb(this.dbPath);
        this.warningList.push(...read.warnings);
        this.db = read.rows;
      } else {
        this.db = new Map();
      }
    }
    return this.db;
  }

  /** Ids from `result/` directories and from db rows. */
  private async allIds(): Promise<string[]> {
    const ids = new Set<string>();
    try {
      for (const name of await readdir(path.join(this.root, 'result'))) {
        if (ID_RE.test(name)) ids.add(name);
      }
    } catch (err) {
      const code = errCode(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        throw new UserError(`store ${this.root}: cannot list result/ (${code ?? String(err)})`);
      }
    }
    for (const id of this.rows().keys()) ids.add(id);
    return [...ids].sort();
  }

  async descendants(id: string): Promise<string[]> {
    const ids = await this.allIds();
    const parentOf = new Map<string, string | null>();
    await mapPool(ids, { concurrency: 16 }, async (child) => {
      const row = this.rows().get(child);
      if (row) return void parentOf.set(child, row.parent);
      // Without a db row, the layer's own header names its parent (its backing file).
      try {
        const backing = (await readQcow2Header(this.imagePath(child))).backingFile;
        const sp = backing ? storePathOf(backing) : null;
        parentOf.set(child, sp?.kind === 'layer' ? sp.id : null);
      } catch {
        parentOf.set(child, null); // an unreadable layer is nobody's parent here
      }
    });
    const out: string[] = [];
    const seen = new Set([id]);
    for (let frontier = [id]; frontier.length > 0; ) {
      const next = ids.filter((c) => !seen.has(c) && frontier.includes(parentOf.get(c) ?? ''));
      for (const c of next) seen.add(c);
      out.push(...next);
      frontier = next;
    }
    return out;
  }

  async matchIds(prefix: string): Promise<string[]> {
    const p = prefix.toLowerCase();
    return (await this.allIds()).filter((id) => id.startsWith(p));
  }

  async listLayers(): Promise<Layer[]> {
    const ids = await this.allIds();
    const cache = new Map<string, Promise<Qcow2Header>>();
    const layers = await mapPool(ids, { concurrency: 16 }, (id) => this.buildLayer(id, cache));
    return layers.sort(newestFirst);
  }

  async getLayer(idOrPrefix: string): Promise<ResolvedLayer> {
    const want = idOrPrefix.trim().toLowerCase();
    if (!/^[0-9a-f]{1,64}$/.test(want)) {
      throw new UserError(`layer ${idOrPrefix}: not a layer id (expected up to 64 hex digits)`);
    }
    const matches = await this.matchIds(want);
    if (matches.length === 0) throw new UserError(`layer ${idOrPrefix}: not in store ${this.root}`);
    if (matches.length > 1) {
      const shown = matches.slice(0, 5).map((m) => m.slice(0, 12)).join(', ');
      throw new UserError(
        `layer ${idOrPrefix}: ambiguous prefix, matches ${matches.length} layers in store ${this.root} (${shown}${matches.length > 5 ? ', ...' : ''})`,
      );
    }
    const layer = await this.buildLayer(matches[0] as string, new Map());
    if (layer.chainError !== undefined) throw new UserError(layer.chainError);
    return layer as ResolvedLayer;
  }

  private async buildLayer(id: string, cache: Map<string, Promise<Qcow2Header>>): Promise<Layer> {
    const row = this.rows().get(id) ?? null;
    const image = this.imagePath(id);
    const logPath = path.join(this.root, 'result', id, 'log');
    const [imgSt, logSt] = await Promise.all([statOrNull(image), statOrNull(logPath)]);
    const warnings: string[] = [];

    let links: ChainLink[] = [];
    let chainError: string | undefined;
    if (!imgSt || imgSt.isDirectory()) {
      chainError = row
        ? `layer ${id}: listed in state/db.sqlite but ${image} does not exist`
        : `layer ${id}: ${image} does not exist`;
    } else {
      try {
        links = (await resolveChain(image, { root: this.root, headerCache: cache })).links;
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        // ChainErrors name the layer (and, when the break is further down, "in the chain of");
        // a header error of the layer's own image names only the path.
        if (err instanceof ChainError) {
          links = err.partial;
          chainError = err.message;
        } else {
          chainError = err.message.startsWith(`layer ${id}`) ? err.message : `layer ${id}: ${err.message}`;
        }
      }
    }

    // Parent and base from the chain: the layer's own recorded backing path says which layer or
    // base it sits on even when that file is gone.
    const own = links[0];
    const direct = own?.backingFile ? storePathOf(own.backingFile) : null;
    const chainParent = direct?.kind === 'layer' ? direct.id : null;
    const last = links[links.length - 1];
    const lastKind = !chainError && last && links.length > 1 ? storePathOf(last.image) : null;
    let base: string | null = lastKind?.kind === 'base' ? lastKind.name : null;
    if (base === null && direct?.kind === 'base') base = direct.name;

    let parent = chainParent;
    if (row) {
      parent = row.parent;
      if (own && own.header && (row.parent ?? null) !== chainParent) {
        warnings.push(
          `layer ${id}: state/db.sqlite says parent ${row.parent ?? 'none'}, the image's backing file says ${chainParent ?? own.backingFile ?? 'none'}`,
        );
      }
    }

    const layer: Layer = {
      id,
      parent,
      base,
      created: row?.created ?? (imgSt ? imgSt.mtime.toISOString() : null),
      chainDepth: links.length,
      image,
      chain: links.map((l) => l.image),
      links,
      bytes: imgSt && !imgSt.isDirectory() ? imgSt.blocks * 512 : 0,
      log: logSt?.isFile() ? logPath : null,
      rc: row?.rc ?? null,
      used: row?.used ?? null,
      inDb: row !== null,
    };
    if (chainError !== undefined) layer.chainError = chainError;
    if (warnings.length > 0) layer.warnings = warnings;
    return layer;
  }
}

function newestFirst(a: Layer, b: Layer): number {
  if (a.created !== b.created) {
    if (a.created === null) return 1;
    if (b.created === null) return -1;
    return a.created < b.created ? 1 : -1;
  }
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
