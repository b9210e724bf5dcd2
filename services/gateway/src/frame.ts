/**
 * WebSocket frames built once per message, so that the same bytes go to every
 * client: the JSON is encoded to UTF-8 and framed once, not once per client.
 */

/**
 * One unfragmented text frame from server to client: FIN, opcode 1, no mask
 * (RFC 6455 §5.2; §5.1: a server does not mask), payload length in 7, 7+16 or
 * 7+64 bits. Valid only without extensions (the gateway offers none, so no
 * permessage-deflate: RSV1 stays 0).
 */
export function textFrame(json: string): Buffer {
  const length = Buffer.byteLength(json);
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.write(json, header, 'utf8');
  return frame;
}
