// Caps how much log text one step may store: the first maxBytes bytes (UTF-8) are kept, one marker
// line says that the rest was discarded. Pure; no I/O.

export interface LogCap {
  /** The part of `text` to keep (possibly ""), with the marker line appended when the cap is hit. */
  push(text: string): string;
  /** True once the cap was hit and the marker emitted. */
  readonly truncated: boolean;
  /** UTF-8 bytes of everything push returned so far, the marker included: the stored log's size. */
  readonly bytes: number;
}

export function truncationMarker(maxBytes: number): string {
  return `\n[pipewright] log truncated: this step wrote more than ${maxBytes} bytes; the rest was discarded\n`;
}

export function createLogCap(maxBytes: number): LogCap {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
  }
  let bytes = 0;
  let truncated = false;

  const push = (text: string): string => {
    if (truncated || text === "") return "";
    const size = Buffer.byteLength(text, "utf8");
    if (bytes + size <= maxBytes) {
      bytes += size;
      return text;
    }
    // Reached once per cap, so encoding the chunk to find a clean cut costs nothing overall.
    const encoded = Buffer.from(text, "utf8");
    let cut = maxBytes - bytes;
    // Back off over continuation bytes (10xxxxxx) so the cut falls at the start of a character.
    while (cut > 0 && ((encoded[cut] ?? 0) & 0xc0) === 0x80) cut--;
    const kept = encoded.toString("utf8", 0, cut) + truncationMarker(maxBytes);
    truncated = true;
    bytes += Buffer.byteLength(kept, "utf8");
    return kept;
  };

  return {
    push,
    get truncated() {
      return truncated;
    },
    get bytes() {
      return bytes;
    },
  };
}
