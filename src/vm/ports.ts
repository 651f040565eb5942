import { createServer } from 'node:net';

/**
 * A TCP port that is free on 127.0.0.1 right now (bind to port 0, read it, close). Another process
 * may take it before QEMU binds it; bootLayer retries with a new port when QEMU cannot forward.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not read the port of a socket bound to 127.0.0.1:0'));
        return;
      }
      const port = addr.port;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
