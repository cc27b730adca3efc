import { connect, createServer, type Socket } from 'node:net';
import { Transform } from 'node:stream';

/**
 * A TCP proxy in front of the test server that misbehaves on demand, per new connection: answers
 * "503 SlowDown" without forwarding, cuts the connection (RST) after some response bytes, or flips
 * one bit of what the client sends (damage in transit the server must notice).
 */
export interface FaultProxy {
  endpoint: string;
  /** the next `n` new connections get a 503 SlowDown */
  slowDown(n: number): void;
  /** the next `n` new connections are reset after `afterBytes` bytes of response */
  cutResponses(n: number, afterBytes: number): void;
  /**
   * the next `n` connections whose client stream reaches byte `atByte` get one bit of that byte
   * flipped (connections that end sooner are left alone)
   */
  corruptRequests(n: number, atByte: number): void;
  connections: number;
  /** bytes flipped so far by corruptRequests */
  damaged: number;
  /** request lines ("PUT /bucket/key?partNumber=3&uploadId=… ") of everything passed through */
  requests: string[];
  close(): Promise<void>;
}

const SLOWDOWN_BODY = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

export async function startFaultProxy(upstreamPort: number): Promise<FaultProxy> {
  let slow = 0;
  let cut = 0;
  let cutAfter = 0;
  let corrupt = 0;
  let corruptAt = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    proxy.connections++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (slow > 0) {
      slow--;
      let head = '';
      client.on('data', (d: Buffer) => {
        if (head.includes('\r\n\r\n')) return;
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        client.end(
          `HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: ${SLOWDOWN_BODY.length}\r\nConnection: close\r\n\r\n${SLOWDOWN_BODY}`,
        );
      });
      return;
    }
    const limit = cut > 0 ? (cut--, cutAfter) : Infinity;
    const upstream = connect(upstreamPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    const flipAt = corruptAt;
    let seen = 0;
    const damage = new Transform({
      transform(chunk: Buffer, _enc, done) {
        if (corrupt > 0 && flipAt >= seen && flipAt < seen + chunk.length) {
          corrupt--;
          chunk = Buffer.from(chunk);
          chunk[flipAt - seen] = chunk[flipAt - seen]! ^ 0x01;
          proxy.damaged++;
        }
        seen += chunk.length;
        done(null, chunk);
      },
    });
    client.pipe(damage).pipe(upstream);
    client.on('data', (d: Buffer) => {
      for (const m of d.toString('latin1').matchAll(/(?:^|\r\n)((?:GET|PUT|POST|HEAD|DELETE) \S+) HTTP\/1\.1\r\n/g)) proxy.requests.push(m[1]!);
    });
    let sent = 0;
    upstream.on('data', (d: Buffer) => {
      if (sent + d.length <= limit) {
        sent += d.length;
        client.write(d);
        return;
      }
      client.write(d.subarray(0, Math.max(0, limit - sent)));
      sent = limit;
      upstream.destroy();
      client.resetAndDestroy();
    });
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const proxy: FaultProxy = {
    endpoint: `http://127.0.0.1:${port}`,
    slowDown: (n) => (slow = n),
    cutResponses: (n, afterBytes) => {
      cut = n;
      cutAfter = afterBytes;
    },
    corruptRequests: (n, atByte) => {
      corrupt = n;
      corruptAt = atByte;
    },
    connections: 0,
    damaged: 0,
    requests: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
