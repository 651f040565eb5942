// A placeholder result for tests that never finish a run (the Layers and Sources screens).
import type { DiagnoseResult } from '../../src/diagnose/types.js';

export const fakeResult = (): DiagnoseResult => {
  throw new Error('this test does not finish a run');
};
