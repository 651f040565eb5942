// Backing-chain resolution for obuilder QEMU layers (design.md section 2).
//
// obuilder records absolute backing paths (`qemu-img create -b /var/cache/obuilder/result/<id>/...`).
// A store copied elsewhere keeps those paths, which then point nowhere (or at the old copy), so
// store-shaped backing paths are looked up under the store root we were given. Nothing here opens
// a file for writing: headers are read through `readQcow2Header` (read-only), the rest is stat.

import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { escapeText } from '../report/escape.js';
import { UserError } from '../util/errors.js';
import { hasQcow2Magic, readQcow2Header, type Qcow2Header } from './qcow2-header.js';

/** Longest chain followed before giving up (a loop guard as well as a sanity bound). */
export const MAX_CHAIN_DEPTH = 256;

const LAYER_RE = /(?:^|\/)result\/([0-9a-f]{64})\/rootfs\/image\.qcow2$/;
const BASE_RE = /(?:^|\/)base-image\/([^/]+)$/;

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

/** "layer <id>", "base image <name>" or the path itself: how errors name an image. */
export function describeImage(p: string): string {
  const sp = storePathOf(p);
  if (sp?.kind === 'layer') return `layer ${sp.id}`;
  if (sp?.kind === 'base') return `base image ${escapeText(sp.name)}`;
  return escapeText(p);
}

export interface ChainLink {
  /** Absolute path of this image as resolved (under the store root when remapped). */
  image: string;
  /** This image's format: `qcow2` for the first; for the others the format the child declared, else probed. */
  format: string;
  /** The qcow2 header, or null for a non-qcow2 link (a raw base, which ends the chain). */
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
  /** The store root to resolve store-shaped backing paths against. */
  root: string;
  /** Shared header reads (absolute path → header), e.g. across the layers of one listing. */
  headerCache?: Map<string, Promise<Qcow2Header>>;
  /** Default MAX_CHAIN_DEPTH. */
  maxDepth?: number;
}

async function isPresent(p: string): Promise<boolean> {
  try {
    const st = await stat(p);
    return !st.isDirectory();
  } catch {
    return false;
  }
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

/**
 * Resolve where `recorded` (the backing path written in `child`) lives. The copy under the
 * store root wins when it exists (the store we were given is the evidence, even if the old
 * absolute path still exists elsewhere); then the recorded path itself (absolute, or relative
 * to the child's directory). Null when neither exists.
 */
async function locateBacking(
  child: string,
  recorded: string,
  root: string,
): Promise<{ image: string; via: ChainLink['resolvedVia'] } | { image: null; tried: string | null }> {
  const relative = !path.isAbsolute(recorded);
  const literal = relative ? path.resolve(path.dirname(child), recorded) : path.normalize(recorded);
  const inRoot = remapToRoot(recorded, root);
  if (inRoot && (await isPresent(inRoot))) {
    return { image: inRoot, via: inRoot === literal ? (relative ? 'relative' : 'literal') : 'store-root' };
  }
  if (await isPresent(literal)) return { image: literal, via: relative ? 'relative' : 'literal' };
  return { image: null, tried: inRoot };
}

/**
 * Resolve the backing chain of `image` (a qcow2): the layer first, the base last, each link
 * with its recorded backing path and format. Throws `ChainError` (a `UserError`) naming the
 * layer whose backing file cannot be found, a loop, or a chain deeper than `maxDepth`; and the
 * `UserError`s of `readQcow2Header` for a link that is not a qcow2.
 */
export async function resolveChain(image: string, opts: ResolveChainOptions): Promise<Chain> {
  const root = path.resolve(opts.root);
  const maxDepth = opts.maxDepth ?? MAX_CHAIN_DEPTH;
  const top = path.resolve(image);
  const topName = describeImage(top);
  const links: ChainLink[] = [];
  const seen = new Set<string>();
  const where = (name: string): string => (name === topName ? '' : ` (in the chain of ${topName})`);

  let current = top;
  let format = 'qcow2';
  let via: ChainLink['resolvedVia'] = 'given';
  let recordedAs: string | null = null;

  for (;;) {
    const name = describeImage(current);
    let real: string;
    try {
      real = await realpath(current);
    } catch {
      real = current;
    }
    if (seen.has(real)) {
      throw new ChainError(`${topName}: backing chain loops back to ${escapeText(current)}`, links);
    }
    seen.add(real);
    if (links.length >= maxDepth) {
      throw new ChainError(`${topName}: backing chain deeper than ${maxDepth} images`, links);
    }

    let header: Qcow2Header | null = null;
    // No declared format: probe, as qemu does (qcow2 magic, else raw, which ends the chain).
    if (format === 'probe') format = (await hasQcow2Magic(current)) ? 'qcow2' : 'raw';
    if (format === 'qcow2') {
      try {
        header = await cachedHeader(current, opts.headerCache);
      } catch (err) {
        const child = links[links.length - 1];
        if (err instanceof UserError && child) {
          const childName = describeImage(child.image);
          throw new ChainError(`${childName}: backing file ${err.message}${where(childName)}`, links);
        }
        throw err;
      }
    }

    const link: ChainLink = {
      image: current,
      format,
      header,
      resolvedVia: via,
      recordedAs,
      backingFile: header?.backingFile ?? null,
      backingFormat: header?.backingFormat ?? null,
    };
    links.push(link);
    if (!header || header.backingFile === null) break;

    const recorded = header.backingFile;
    const found = await locateBacking(current, recorded, root);
    if (found.image === null) {
      // The recorded path is bytes from the layer: shown escaped.
      const shown = path.isAbsolute(recorded)
        ? escapeText(recorded)
        : `${escapeText(recorded)} (relative to ${path.dirname(current)})`;
      const also = found.tried
        ? `and no ${escapeText(found.tried)} either`
        : `and it is not a store path (result/<id>/rootfs/image.qcow2 or base-image/<name>.qcow2) to look up under ${root}`;
      throw new ChainError(`${name}: backing file ${shown} does not exist ${also}${where(name)}`, links);
    }
    current = found.image;
    via = found.via;
    recordedAs = recorded;
    format = header.backingFormat ?? 'probe';
  }

  return { images: links.map((l) => l.image), links };
}
