/**
 * A minimal WebSocket client on a raw TCP socket, for holding thousands of subscribers in one process at a
 * low cost per message: the upgrade handshake, masked text frames out, unmasked frames in (text recorded with
 * their arrival time, pings answered). Server frames from the edge are small and never fragmented.
 */
import { connect, type Socket } from 'node:net';

export interface Arrival {
  at: number;
  text: string;
}

const now = () => performance.timeOrigin + performance.now();

export class RawWsClient {
  readonly arrivals: Arrival[] = [];
  #socket: Socket;
  #buf: Buffer = Buffer.alloc(0);
  #upgraded = false;
  #opened: Promise<void>;
  closed = false;

  constructor(port: number, path: string) {
    this.#socket = connect(port, '127.0.0.1');
    this.#socket.setNoDelay(true);
    this.#opened = new Promise((resolve, reject) => {
      this.#socket.once('error', reject);
      this.#socket.once('connect', () => {
        this.#socket.write(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        );
      });
      this.#socket.on('data', (chunk: Buffer) => {
        const at = now();
        this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
        if (!this.#upgraded) {
          const end = this.#buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = this.#buf.subarray(0, end).toString('latin1');
          if (!head.startsWith('HTTP/1.1 101')) {
            reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
            this.#socket.destroy();
            return;
          }
          this.#upgraded = true;
          this.#buf = this.#buf.subarray(end + 4);
          resolve();
        }
        this.#frames(at);
      });
      this.#socket.once('close', () => {
        this.closed = true;
      });
    });
  }

  opened(): Promise<void> {
    return this.#opened;
  }

  #frames(at: number): void {
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) return;
      const opcode = b[0]! & 0x0f;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      if (b.length < off + len) return;
      const payload = b.subarray(off, off + len);
      this.#buf = b.subarray(off + len);
      if (opcode === 1) this.arrivals.push({ at, text: payload.toString('utf8') });
      else if (opcode === 9) this.#write(0xa, payload);
      else if (opcode === 8) this.#socket.end();
    }
  }

  /** A masked frame (zero mask key: the XOR leaves the payload as is). */
  #write(opcode: number, payload: Buffer): void {
    const head =
      payload.length < 126
        ? Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0])
        : Buffer.from([0x80 | opcode, 0x80 | 126, payload.length >> 8, payload.length & 255, 0, 0, 0, 0]);
    this.#socket.write(Buffer.concat([head, payload]));
  }

  send(text: string): void {
    this.#write(1, Buffer.from(text, 'utf8'));
  }

  close(): void {
    this.#socket.destroy();
  }
}
