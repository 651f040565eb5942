// A minimal QMP client over a unix socket: greeting, `qmp_capabilities`, then commands one at a
// time. Asynchronous events ({"event": ...}) are skipped. Used to stop QEMU (`quit`) and to ask
// its status; boot.ts falls back to SIGTERM then SIGKILL when QMP does not answer.

import { createConnection, type Socket } from 'node:net';

export class QmpError extends Error {
  override name = 'QmpError';
}

type Msg = Record<string, unknown>;

export class QmpClient {
  private buf = '';
  private waiters: { resolve: (m: Msg) => void; reject: (e: Error) => void }[] = [];
  private queued: Msg[] = [];
  private closedErr: Error | null = null;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (!line) continue;
        let msg: Msg;
        try {
          msg = JSON.parse(line) as Msg;
        } catch {
          continue;
        }
        if ('event' in msg) continue;
        const w = this.waiters.shift();
        if (w) w.resolve(msg);
        else this.queued.push(msg);
      }
    });
    const fail = (err: Error): void => {
      this.closedErr = err;
      for (const w of this.waiters.splice(0)) w.reject(err);
    };
    sock.on('error', (err) => fail(new QmpError(`QMP socket: ${err.message}`)));
    sock.on('close', () => fail(new QmpError('QMP socket closed')));
  }

  /** Connect, read the greeting and negotiate capabilities, all within `timeoutMs`. */
  static async connect(path: string, timeoutMs = 3000): Promise<QmpClient> {
    const sock = createConnection({ path });
    const client = new QmpClient(sock);
    const timer = setTimeout(() => sock.destroy(new Error(`no QMP greeting within ${timeoutMs} ms`)), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      });
      const greeting = await client.next();
      if (!('QMP' in greeting)) throw new QmpError(`unexpected QMP greeting: ${JSON.stringify(greeting)}`);
      await client.execute('qmp_capabilities');
      return client;
    } catch (err) {
      sock.destroy();
      throw err instanceof Error ? err : new QmpError(String(err));
    } finally {
      clearTimeout(timer);
    }
  }

  private next(): Promise<Msg> {
    const q = this.queued.shift();
    if (q) return Promise.resolve(q);
    if (this.closedErr) return Promise.reject(this.closedErr);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Run one command and return its `return` value; a QMP `error` becomes a QmpError. */
  async execute(command: string, args?: Record<string, unknown>, timeoutMs = 3000): Promise<unknown> {
    if (this.closedErr) throw this.closedErr;
    this.sock.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QmpError(`QMP ${command}: no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const msg = await Promise.race([this.next(), timeout]);
      if ('error' in msg) {
        const e = msg.error as { class?: string; desc?: string };
        throw new QmpError(`QMP ${command}: ${e.class ?? 'error'}: ${e.desc ?? ''}`);
      }
      return msg.return;
    } finally {
      clearTimeout(timer);
    }
  }

  /** `query-status`: e.g. { status: 'running', running: true }. */
  async queryStatus(): Promise<{ status: string; running: boolean }> {
    return (await this.execute('query-status')) as { status: string; running: boolean };
  }

  /** Ask QEMU to quit. The socket closing right after is success too. */
  async quit(): Promise<void> {
    try {
      await this.execute('quit');
    } catch (err) {
      if (!(err instanceof QmpError && /closed/.test(err.message))) throw err;
    }
  }

  close(): void {
    this.sock.destroy();
  }
}
