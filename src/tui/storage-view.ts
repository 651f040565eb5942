// What a direct reading adds to a file's view: where its bytes are (files[].storage: which element
// of the layer's chain holds each block: the layer itself, an ancestor layer, the base image, or
// none), drawn as a strip of blocks with a legend naming the layers by short id.

import { escapeText } from '../report/escape.js';
import { humanBytes } from '../report/format.js';
import type { FileReport } from '../report/schema.js';
import type { StorageBlock } from '../tree/tree.js';
import type { Line, Seg } from './file-view.js';
import { shortId } from './text.js';
import type { ColourName } from './theme.js';

/** `1a3b60d28d33` for a layer id, `base:linux-sample` as it is. */
export function elementName(label: string): string {
  return /^[0-9a-f]{64}$/.test(label) ? shortId(label) : escapeText(label);
}

/** The chain's elements in order (the layer first, the base last), as storage labels them. */
function chainIndex(chain: readonly string[], label: string): number {
  if (label.startsWith('base:')) {
    const name = label.slice(5);
    return chain.findIndex((p) => p.includes(`/base-image/${name}.`));
  }
  return chain.findIndex((p) => p.includes(`/result/${label}/`));
}

const ANCESTOR_COLOURS: ColourName[] = ['yellow', 'magenta', 'cyan', 'blue', 'red'];
const NONE = '\0none';
const HOLE = '\0hole';

interface Mark {
  ch: string;
  colour: ColourName;
  name: string;
}

/** A mark per element: its place in the chain (0 the layer itself), coloured. */
function marksFor(labels: string[], chain: readonly string[], layerId: string | undefined): Map<string, Mark> {
  const known = labels.filter((l) => l !== NONE && l !== HOLE);
  const order = [...new Set(known)].map((l) => ({ l, i: chainIndex(chain, l) }));
  let extra = chain.length;
  for (const o of order) if (o.i < 0) o.i = extra++;
  order.sort((a, b) => a.i - b.i);
  const marks = new Map<string, Mark>();
  for (const { l, i } of order) {
    const self = l === layerId || i === 0;
    const ch = i < 10 ? String(i) : String.fromCharCode(0x61 + ((i - 10) % 26));
    marks.set(l, { ch, colour: self ? 'green' : ANCESTOR_COLOURS[(i - 1) % ANCESTOR_COLOURS.length]!, name: `${elementName(l)}${self ? ' (this layer)' : i === 1 ? ' (parent)' : ''}` });
  }
  marks.set(NONE, { ch: '·', colour: 'gray', name: 'no image: reads as zeros' });
  marks.set(HOLE, { ch: '_', colour: 'gray', name: 'a hole in the file' });
  return marks;
}

/** The element holding each `blockSize` block of the file (the first one not the layer's own wins). */
function blockLabels(blocks: readonly StorageBlock[], size: number, blockSize: number, layerId: string | undefined): string[] {
  const n = Math.max(1, Math.ceil(size / blockSize));
  const out: string[] = [];
  for (let b = 0; b < n; b++) {
    const lo = b * blockSize;
    const hi = lo + blockSize;
    const here = blocks.filter((x) => x.offset < hi && x.offset + x.length > lo).map((x) => (x.disk === null ? HOLE : (x.layer ?? NONE)));
    out.push(here.find((l) => l !== layerId) ?? here[0] ?? HOLE);
  }
  return out;
}

/**
 * The file's blocks, one mark each, by the chain element that supplied its bytes, then a legend.
 * When there are more blocks than fit in `maxRows` rows, each mark stands for several blocks
 * (an ancestor's mark wins over the layer's own: it is the one worth seeing).
 */
export function chainStrip(f: FileReport, o: { blockSize: number; columns: number; chain: readonly string[]; layerId?: string; maxRows?: number }): Line[] {
  const st = f.storage;
  if (!st) return [];
  const labels = blockLabels(st.blocks, f.actualSize ?? 0, o.blockSize, o.layerId);
  const marks = marksFor(labels, o.chain, o.layerId);
  const perRow = Math.max(8, o.columns - 4);
  // As many rows at most as the class strip (file-view's blockStrip), so the two line up.
  const per = Math.max(1, Math.ceil(labels.length / (perRow * (o.maxRows ?? 8))));
  const cells: string[] = [];
  for (let c = 0; c * per < labels.length; c++) {
    const group = labels.slice(c * per, (c + 1) * per);
    cells.push(group.find((l) => l !== o.layerId && l !== NONE && l !== HOLE) ?? group[0]!);
  }
  const foreign = labels.filter((l) => l !== o.layerId).length;
  const out: Line[] = [
    [
      { text: `Where the bytes are: inode ${st.inode}, ${st.blocks.length} extent${st.blocks.length === 1 ? '' : 's'}`, bold: true },
      { text: `; ${labels.length} block${labels.length === 1 ? '' : 's'} of ${humanBytes(o.blockSize)}${per > 1 ? `, one mark per ${per}` : ''}`, dim: true },
      foreign > 0 ? { text: `; ${foreign} not from this layer's own image`, color: 'yellow', bold: true } : { text: "; all from this layer's own image", dim: true },
    ],
  ];
  for (let r = 0; r * perRow < cells.length; r++) {
    const row: Seg[] = [{ text: '  ' }];
    for (const l of cells.slice(r * perRow, (r + 1) * perRow)) {
      const m = marks.get(l)!;
      const last = row[row.length - 1]!;
      if (last.color === m.colour && last.text !== '  ') last.text += m.ch;
      else row.push({ text: m.ch, color: m.colour, bold: l !== o.layerId });
    }
    out.push(row);
  }
  const present = [...marks.entries()].filter(([l]) => labels.includes(l));
  out.push([{ text: '  ' }, ...present.flatMap(([, m]): Seg[] => [{ text: m.ch, color: m.colour, bold: true }, { text: ` ${m.name}  ` }])]);
  out.push([]);
  return out;
}
