// Worker bootstrap: the TypeScript loader for this thread, then the worker itself.
import { register } from 'tsx/esm/api';
register();
await import('./worker.ts');
