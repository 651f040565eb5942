// Backing-chain resolution for obuilder QEMU layers (design.md sections 2 and 7), confined to the
// store given.
//
// obuilder records absolute backing paths (`qemu-img create -b /var/cache/obuilder/result/<id>/...`).
// A store copied elsewhere keeps those paths, which then point nowhere (or at the old copy), so
// store-shaped backing paths are looked up under the store root we were given.
//
// A backing name is bytes from the evidence: it must never point the tool (or QEMU, which is given
// the resolved chain) at a host file. So every element of a chain, the layer itself included,
// must resolve (symlinks resolved first, with realpath) to a file inside the store root given:
//
//   result/<64 hex>/rootfs/image.qcow2   a layer: qcow2 and nothing else
//   base-image/<name>.qcow2              a base image: qcow2, or raw (then it ends the chain)
//
// Anything else (a name outside the store, `../../../../etc/passwd`, `/etc/hostname`, a symlink
// leading out, a layer declared raw, a copied store whose parent is missing while the old path
// still exists) is a one-line `ChainError` naming the layer, the backing name and why. Names in
// messages are as recorded (bytes from the evidence): they are escaped where the message is
// printed (report/escape.ts: escape once, where printed).
// A qcow2 whose header names another host file (an external data file) or that cannot be read
// without a key (encryption) is refused too. Nothing here opens a file for writing: headers are
// read through `readQcow2Header` (read-only), the rest is stat and realpath.

import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../util/errors.js';
import { describeFsError, errnoCode } from '../util/fs-errors.js';
import { INCOMPAT_EXTERNAL_DATA, probeImageFormat, readQcow2Header, type Qcow2Header } from '../image/qcow2-header.js';

/** Longest chain followed before giving up (a loop guard as well as a sanity bound). */
export const MAX_CHAIN_DEPTH = 256;

const ID = '[0-9a-f]{64}';
const LAYER_RE = new RegExp(`(?:^|/)result/(${ID})/rootfs/image\\.qcow2$`);
const BASE_RE = /(?:^|\/)base-image\/([^/]+)$/;
/** The two shapes an element may have, relative to the (real) store root. */
const IN_STORE_LAYER_RE = new RegExp(`^result/(${ID})/rootfs/image\\.qcow2$`);
const IN_STORE_BASE_RE = /^base-image\/([^/]+)\.qcow2$/;

/** What a path is in an obuilder store, judged from its shape alone. */
export type StorePath = { kind: 'layer'; id: string } | { kind: 'base'; name: string };

/**
 * Classify a path by its shape: `.../result/<64 hex>/rootfs/image.qcow2` is a layer,
 * `.../base-image/<name>.qcow2` a base image (`name` without `.qcow2`). Otherwise null.
 */
export function storePathOf(p: string): StorePath | null {
  const s = p.replace(/\\/g, '/');
  const layer = LAYER_RE.exec(s);
  if (layer?.[1]) return { kind: 'layer', id: layer[1] };
  const base = BASE_RE.exec(s);
  if (base?.[1]) return { kind: 'base', name: base[1].replace(/\.qcow2$/, '') };
  return null;
}

/**
 * Where a recorded backing path would be under `root`, when it has a store shape:
 * `.../result/<id>/rootfs/image.qcow2` → `<root>/result/<id>/rootfs/image.qcow2`,
 * `.../base-image/<file>` → `<root>/base-image/<file>`. Otherwise null.
 */
export function remapToRoot(recorded: string, root: string): string | null {
  const s = recorded.replace(/\\/g, '/');
  const layer = LAYER_RE.exec(s);
  if (layer?.[1]) return path.join(root, 'result', layer[1], 'rootfs', 'image.qcow2');
  const base = BASE_RE.exec(s);
  if (base?.[1] && base[1] !== '.' && base[1] !== '..') return path.join(root, 'base-image', base[1]);
  return null;
}

/** "layer <id>", "base image <name>" or the path itself: how errors name an image (raw: escaped where printed). */
export function describeImage(p: string): string {
  const sp = storePathOf(p);
  if (sp?.kind === 'layer') return `layer ${sp.id}`;
  if (sp?.kind === 'base') return `base image ${sp.name}`;
  return p;
}

export interface ChainLink {
  /** Absolute path of this image: its real place in the store, spelled under the store root given. */
  image: string;
  /**
   * This image's format: `qcow2` for every layer; `qcow2` or `raw` for a base image (typed as a
   * string for the readers that check it again).
   */
  format: string;
  /** The qcow2 header, or null for a raw base (which ends the chain). */
  header: Qcow2Header | null;
  /**
   * How this image was found from the path its child recorded: `given` (the first link),
   * `literal` (the recorded absolute path), `relative` (relative to the child's directory, qcow2
   * semantics) or `store-root` (remapped under the store root given).
   */
  resolvedVia: 'given' | 'literal' | 'relative' | 'store-root';
  /** The backing path exactly as the child recorded it (null for the first link). */
  recordedAs: string | null;
  /** This image's own backing file as recorded in its header, or null. */
  backingFile: string | null;
  /** This image's own backing format as recorded in its header (extension 0xe2792aca), or null. */
  backingFormat: string | null;
}

export interface Chain {
  /** Absolute paths, the layer first, the base last. */
  images: string[];
  links: ChainLink[];
}

/** A broken chain: a `UserError` that also carries the links resolved before the break. */
export class ChainError extends UserError {
  constructor(
    message: string,
    readonly partial: ChainLink[],
  ) {
    super(message);
    this.name = 'ChainError';
  }
}

export interface ResolveChainOptions {
  /** The store root: every element of the chain must be inside it. */
  root: string;
  /** Shared header reads (absolute path → header), e.g. across the layers of one listing. */
  headerCache?: Map<string, Promise<Qcow2Header>>;
  /** Default MAX_CHAIN_DEPTH. */
  maxDepth?: number;
}

/** The store root, as given and with its symlinks resolved; `shown` is how messages name it. */
interface Root {
  given: string;
  real: string;
  shown: string;
}

/** An element placed in the store: its canonical path (under the root given) and what it is. */
interface Placed {
  image: string;
  real: string;
  kind: StorePath;
}

/** Why a path cannot be an element of the chain (the message is completed by the caller). */
class Refusal {
  constructor(readonly why: string) {}
}

function cachedHeader(p: string, cache: Map<string, Promise<Qcow2Header>> | undefined): Promise<Qcow2Header> {
  if (!cache) return readQcow2Header(p);
  let h = cache.get(p);
  if (!h) {
    h = readQcow2Header(p);
    cache.set(p, h);
    // A failed read is not cached as a rejected promise left unobserved.
    h.catch(() => cache.delete(p));
  }
  return h;
}

/** realpath, or null when the path does not exist; other errors are refusals naming the cause. */
async function realOrNull(p: string): Promise<string | null> {
  try {
    return await realpath(p);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new Refusal(`${describeFsError(err)}`);
  }
}

/**
 * Place an existing path in the store: its real path must lie inside the real store root, in one
 * of the two shapes, and be a regular file. Throws a Refusal saying why not.
 */
async function place(p: string, real: string, root: Root): Promise<Placed> {
  const rel = path.relative(root.real, real);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new Refusal(`resolves to ${real}, outside store ${root.shown}`);
  }
  const relSlash = rel.split(path.sep).join('/');
  const layer = IN_STORE_LAYER_RE.exec(relSlash);
  const base = IN_STORE_BASE_RE.exec(relSlash);
  const kind: StorePath | null = layer?.[1] ? { kind: 'layer', id: layer[1] } : base?.[1] ? { kind: 'base', name: base[1] } : null;
  if (!kind) {
    const shown = real === p ? '' : ` (it resolves to ${real})`;
    throw new Refusal(
      `is ${relSlash} in store ${root.shown}${shown}, neither a layer image (result/<id>/rootfs/image.qcow2) nor a base image (base-image/<name>.qcow2)`,
    );
  }
  let isFile: boolean;
  try {
    isFile = (await stat(real)).isFile();
  } catch (err) {
    throw new Refusal(describeFsError(err));
  }
  if (!isFile) throw new Refusal(`is not a regular file`);
  return { image: path.join(root.given, rel), real, kind };
}

/** Where the backing file `recorded` of `child` is in the store, or a Refusal saying why it is not. */
async function locateBacking(child: string, recorded: string, root: Root): Promise<Placed & { via: ChainLink['resolvedVia'] }> {
  const relative = !path.isAbsolute(recorded);
  const literal = relative ? path.resolve(path.dirname(child), recorded) : path.normalize(recorded);
  const literalVia = relative ? 'relative' : 'literal';
  // The copy under the store root wins when it exists: the store given is the evidence, even
  // if the old absolute path still exists elsewhere.
  const inRoot = remapToRoot(recorded, root.given);
  if (inRoot) {
    const real = await realOrNull(inRoot);
    if (real !== null) {
      const placed = await place(inRoot, real, root);
      return { ...placed, via: path.resolve(inRoot) === literal ? literalVia : 'store-root' };
    }
  }
  const real = await realOrNull(literal);
  if (real === null) {
    throw new Refusal(
      inRoot
        ? `does not exist and no ${inRoot} either`
        : `does not exist and it is not a store path (result/<id>/rootfs/image.qcow2 or base-image/<name>.qcow2) to look up under ${root.shown}`,
    );
  }
  if (inRoot && !isInside(real, root.real)) {
    // A copied store whose parent is missing: the old place still exists, outside this store.
    throw new Refusal(
      `is not in store ${root.shown}: no ${inRoot}, and the image at the recorded path is outside the store (it is never used)`,
    );
  }
  return { ...(await place(literal, real, root)), via: literalVia };
}

function isInside(real: string, rootReal: string): boolean {
  const rel = path.relative(rootReal, real);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** How a child's recorded backing name is named in messages (as recorded; relative ones say to what). */
function shownName(recorded: string, child: string): string {
  return path.isAbsolute(recorded) ? recorded : `${recorded} (relative to ${path.dirname(child)})`;
}

/**
 * The format of a placed element: a layer is qcow2 and nothing else; a base image is qcow2 or raw.
 * `declared` is the format the child recorded (null: probe, as qemu does).
 */
async function formatOf(el: Placed, declared: string | null): Promise<'qcow2' | 'raw'> {
  const what = el.kind.kind === 'layer' ? `layer ${el.kind.id}` : `base image ${el.kind.name}`;
  if (declared !== null && declared !== 'qcow2' && declared !== 'raw') {
    throw new Refusal(`is ${what}, declared as format ${declared} (only qcow2, and raw for a base image, are read)`);
  }
  let format: 'qcow2' | 'raw';
  try {
    format = declared ?? (await probeImageFormat(el.real));
  } catch (err) {
    throw new Refusal(err instanceof UserError ? err.message : describeFsError(err));
  }
  if (format === 'raw' && el.kind.kind === 'layer') {
    throw new Refusal(`is ${what}, ${declared ? 'declared raw' : 'not a qcow2 image'}: a layer is a qcow2 image and nothing else`);
  }
  return format;
}

/** Features that would make QEMU (or the reader) open another host file, or that need a key. */
function refuseForChain(header: Qcow2Header): void {
  if (header.encrypted) {
    const how = header.cryptMethod === 1 ? 'AES' : header.cryptMethod === 2 ? 'LUKS' : `crypt_method ${header.cryptMethod}`;
    throw new Refusal(`is an encrypted qcow2 image (${how}), which is not supported`);
  }
  if (header.dataFile !== null || (header.incompatibleBits & BigInt(INCOMPAT_EXTERNAL_DATA)) !== 0n) {
    const named = header.dataFile !== null ? ` ${header.dataFile}` : '';
    throw new Refusal(`is a qcow2 image with an external data file${named}, which is not supported (it names another host file)`);
  }
}

/** Walks one chain: the state shared by its steps. */
class ChainWalk {
  readonly links: ChainLink[] = [];
  private readonly seen = new Set<string>();
  readonly topName: string;

  constructor(
    readonly top: string,
    readonly root: Root,
    private readonly opts: ResolveChainOptions,
  ) {
    this.topName = describeImage(top);
  }

  /** " (in the chain of <top>)" unless `name` is the top. */
  where(name: string): string {
    return name === this.topName ? '' : ` (in the chain of ${this.topName})`;
  }

  /** A ChainError for the backing file of the last link. */
  backingError(recorded: string, why: string): ChainError {
    const child = this.links[this.links.length - 1]!;
    const name = describeImage(child.image);
    return new ChainError(`${name}: backing file ${shownName(recorded, child.image)} ${why}${this.where(name)}`, this.links);
  }

  /** The first element: the layer's own image, which must be a layer of this store too. */
  async placeTop(): Promise<Placed> {
    try {
      const real = await realOrNull(this.top);
      if (real === null) throw new Refusal('does not exist');
      const placed = await place(this.top, real, this.root);
      if (placed.kind.kind !== 'layer') throw new Refusal('is not a layer image (result/<id>/rootfs/image.qcow2)');
      const named = storePathOf(this.top);
      if (named?.kind === 'layer' && named.id !== placed.kind.id) throw new Refusal(`resolves to the image of another layer, ${placed.kind.id}`);
      return placed;
    } catch (err) {
      if (err instanceof Refusal) throw this.topError(err.why);
      throw err;
    }
  }

  /** A ChainError about the layer's own image. */
  topError(why: string): ChainError {
    const shown = this.top;
    return new ChainError(this.topName === shown ? `${shown} ${why}` : `${this.topName}: ${shown} ${why}`, this.links);
  }

  /** Guard against loops and runaway depth before adding `el`. */
  checkBounds(el: Placed): void {
    if (this.seen.has(el.real)) {
      throw new ChainError(`${this.topName}: backing chain loops back to ${el.image}`, this.links);
    }
    this.seen.add(el.real);
    const maxDepth = this.opts.maxDepth ?? MAX_CHAIN_DEPTH;
    if (this.links.length >= maxDepth) {
      throw new ChainError(`${this.topName}: backing chain deeper than ${maxDepth} images`, this.links);
    }
  }

  /** The qcow2 header of `el` (null for raw), refused when the chain cannot use it. */
  async header(el: Placed, format: 'qcow2' | 'raw'): Promise<Qcow2Header | null> {
    if (format === 'raw') return null;
    const header = await cachedHeader(el.image, this.opts.headerCache);
    refuseForChain(header);
    return header;
  }

  add(el: Placed, format: 'qcow2' | 'raw', header: Qcow2Header | null, via: ChainLink['resolvedVia'], recordedAs: string | null): ChainLink {
    const link: ChainLink = {
      image: el.image,
      format,
      header,
      resolvedVia: via,
      recordedAs,
      backingFile: header?.backingFile ?? null,
      backingFormat: header?.backingFormat ?? null,
    };
    this.links.push(link);
    return link;
  }
}

/** The first link: the layer's image, in the store, a qcow2. */
async function firstLink(walk: ChainWalk): Promise<ChainLink> {
  const el = await walk.placeTop();
  walk.checkBounds(el);
  try {
    return walk.add(el, 'qcow2', await walk.header(el, 'qcow2'), 'given', null);
  } catch (err) {
    if (err instanceof Refusal) throw walk.topError(err.why);
    throw err;
  }
}

/** The link the last one's backing file names, confined to the store. */
async function nextLink(walk: ChainWalk, child: ChainLink): Promise<ChainLink> {
  const recorded = child.backingFile!;
  try {
    const el = await locateBacking(child.image, recorded, walk.root);
    walk.checkBounds(el);
    const format = await formatOf(el, child.backingFormat);
    return walk.add(el, format, await walk.header(el, format), el.via, recorded);
  } catch (err) {
    if (err instanceof Refusal) throw walk.backingError(recorded, err.why);
    // A header that is not a qcow2 one: the child's backing file is named, then the cause.
    if (err instanceof UserError && !(err instanceof ChainError)) {
      const name = describeImage(child.image);
      throw new ChainError(`${name}: backing file ${err.message}${walk.where(name)}`, walk.links);
    }
    throw err;
  }
}

/**
 * Resolve the backing chain of `image` (a layer's qcow2 in the store at `opts.root`): the layer
 * first, the base last, each link with its recorded backing path and format, every element
 * confined to the store (see the top of this file). Throws `ChainError` (a `UserError`) naming
 * the layer whose backing file cannot be used and why, a loop, or a chain deeper than `maxDepth`;
 * and the `UserError`s of `readQcow2Header` for a layer image that is not a qcow2.
 */
export async function resolveChain(image: string, opts: ResolveChainOptions): Promise<Chain> {
  const given = path.resolve(opts.root);
  let real: string;
  try {
    real = await realpath(given);
  } catch (err) {
    throw new ChainError(`store ${given}: ${describeFsError(err)}`, []);
  }
  const walk = new ChainWalk(path.resolve(image), { given, real, shown: given }, opts);
  let link = await firstLink(walk);
  while (link.backingFile !== null) link = await nextLink(walk, link);
  return { images: walk.links.map((l) => l.image), links: walk.links };
}
