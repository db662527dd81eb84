/**
 * Rucio's list endpoints answer `application/x-json-stream`: one JSON document per line, an empty
 * body for an empty list. Parsed incrementally so a dataset of 14,400 files never sits in memory
 * as one string.
 */
export async function* parseJsonLines(body: AsyncIterable<Uint8Array | string>): AsyncGenerator {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of body) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line !== '') yield JSON.parse(line) as unknown;
      newline = pending.indexOf('\n');
    }
  }
  pending += decoder.decode();
  const last = pending.trim();
  if (last !== '') yield JSON.parse(last) as unknown;
}
