/** A kafkajs socket factory that shows the tests the requests kafkajs writes, as they go on the wire. */
import { connect, type Socket } from 'node:net';
import type { ISocketFactory } from 'kafkajs';

export const PRODUCE = 0;
export const CREATE_TOPICS = 19;

/** Calls `seen` with every request kafkajs sends (kafkajs writes one request per `write`). */
export function requestTap(seen: (apiKey: number, request: Buffer) => void): ISocketFactory {
  return ({ host, port, onConnect }) => {
    const socket = connect({ host, port }, onConnect);
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = ((chunk: unknown, ...rest: unknown[]) => {
      // int32 size, int16 api key, int16 api version, int32 correlation id, string client id, body
      if (Buffer.isBuffer(chunk) && chunk.length >= 14) seen(chunk.readInt16BE(4), chunk);
      return write(chunk, ...rest);
    }) as Socket['write'];
    return socket;
  };
}

/** The `acks` of a Produce request (v3+: the body starts with the transactional id, then acks). */
export function produceAcks(request: Buffer): number {
  if (request.readInt16BE(6) < 3) throw new Error('Produce request before v3');
  const body = 14 + Math.max(0, request.readInt16BE(12));
  return request.readInt16BE(body + 2 + Math.max(0, request.readInt16BE(body)));
}
