// Request bodies as text: UTF-8 that is really UTF-8, JSON that parses, and a value within the
// limits every JSON of a client keeps (depth, no NUL, well-formed Unicode). Anything else is a 400
// that says where, before any route sees the body.

import { isUtf8 } from "node:buffer";
import { PipewrightError } from "../errors.js";
import { checkJsonValue } from "../pipeline/limits.js";

/** Byte offset of the first byte that does not belong to a valid UTF-8 sequence. */
export function invalidUtf8Offset(buf: Uint8Array): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    let need: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return i;
    }
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return i;
    i += need + 1;
  }
  return -1;
}

/** The body's JSON value; throws a 400 naming what is wrong. */
export function parseJsonBody(raw: Buffer): unknown {
  if (!isUtf8(raw)) {
    throw new PipewrightError(
      "INVALID_JSON",
      `The request body is not valid UTF-8 (at byte ${invalidUtf8Offset(raw)}).`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw new PipewrightError(
      "INVALID_JSON",
      `The request body is not valid JSON: ${(err as Error).message}`,
    );
  }
  const problem = checkJsonValue(value);
  if (problem) {
    throw new PipewrightError(
      "INVALID_REQUEST",
      `${problem.path === "" ? "body" : problem.path}: ${problem.problem}`,
    );
  }
  return value;
}
