// The Results and File screens' place: the selected file, the filter, the file open.

import { useState } from 'react';
import type { DiagnoseResult } from '../../diagnose/types.js';
import { damagedFirst } from '../../report/format.js';
import type { FileReport } from '../../report/schema.js';

export interface FileNav {
  selected: string | null;
  select(path: string | null): void;
  filter: string;
  setFilter(f: string): void;
  open: FileReport | null;
  setOpen(f: FileReport | null): void;
  /** A new result: the first damaged file selected, no filter. */
  reset(res: DiagnoseResult): void;
}

export function useFileNav(): FileNav {
  const [selected, select] = useState<string | null>(null);
  const [filter, setFilter] = useState('');
  const [open, setOpen] = useState<FileReport | null>(null);
  const reset = (res: DiagnoseResult) => {
    select(damagedFirst(res.report.files)[0]?.path ?? null);
    setFilter('');
  };
  return { selected, select, filter, setFilter, open, setOpen, reset };
}
