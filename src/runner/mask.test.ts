import { describe, expect, it } from "vitest";
import { createMasker } from "./mask.js";

/** Obviously-correct reference: scan left to right, longest secret first at each position. */
function reference(secrets: string[], text: string): string {
  const list = secrets.filter((s) => s !== "").sort((a, b) => b.length - a.length);
  let out = "";
  let i = 0;
  while (i < text.length) {
    const hit = list.find((s) => text.startsWith(s, i));
    if (hit === undefined) {
      out += text[i];
      i++;
    } else {
      out += "***";
      i += hit.length;
    }
  }
  return out;
}

function maskChunks(secrets: string[], chunks: string[]): string {
  const masker = createMasker(secrets);
  return chunks.map((c) => masker.push(c)).join("") + masker.flush();
}

/** Every way to cut `text` into up to three chunks. */
function* splits(text: string): Generator<string[]> {
  for (let i = 0; i <= text.length; i++) {
    for (let j = i; j <= text.length; j++) yield [text.slice(0, i), text.slice(i, j), text.slice(j)];
  }
}

/** Deterministic pseudo-random numbers (LCG), so a failure can be replayed. */
function rng(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe("createMasker", () => {
  it("returns the very same text when there are no secrets", () => {
    const masker = createMasker([]);
    const text = "nothing to hide ".repeat(1000);
    expect(masker.push(text)).toBe(text);
    expect(masker.flush()).toBe("");
    expect(createMasker(["", ""]).push("abc")).toBe("abc");
  });

  it("masks every occurrence in one chunk, including regex metacharacters", () => {
    const masker = createMasker(["hunter2", "a.b*c(["]);
    expect(masker.push("pw=hunter2, again hunter2; weird a.b*c([ but not axbbc(")).toBe(
      "pw=***, again ***; weird *** but not axbbc(",
    );
    expect(masker.flush()).toBe("");
  });

  it("masks a secret split across chunks at every possible position", () => {
    const cases: Array<[string[], string]> = [
      [["hunter2"], "pw=hunter2 and hunter2hunter2 end hunte"],
      [["s3cr3t", "tok-ABCDEF"], "a s3cr3t b tok-ABCDEFs3cr3t tok-ABC s3cr"],
      [["😀key"], "x😀key y 😀ke"],
    ];
    for (const [secrets, text] of cases) {
      const expected = reference(secrets, text);
      expect(maskChunks(secrets, [text])).toBe(expected);
      for (const chunks of splits(text)) expect(maskChunks(secrets, chunks)).toBe(expected);
      expect(maskChunks(secrets, [...text])).toBe(expected);
    }
  });

  it("prefers the longest secret and the leftmost match when secrets overlap", () => {
    expect(maskChunks(["abc", "abcdef"], ["xxabcdefyy"])).toBe("xx***yy");
    expect(maskChunks(["abc", "abcdef"], ["xxabcdeX"])).toBe("xx***deX");
    expect(maskChunks(["abc", "abcdef"], ["xxabc", "def"])).toBe("xx***");
    expect(maskChunks(["abc", "abcdef"], ["xxabc", "dX"])).toBe("xx***dX");
    // The long secret is cut off by the end of the stream: the short one inside it still counts.
    expect(maskChunks(["abc", "abcdef"], ["xxabcd"])).toBe("xx***d");
    expect(maskChunks(["abcd", "cdef"], ["abcdef"])).toBe("***ef");
    expect(maskChunks(["pass", "password"], ["my password, my pass"])).toBe("my ***, my ***");
    expect(maskChunks(["aa"], ["aaa"])).toBe("***a");
  });

  it("matches the reference on random text, secrets and chunking", () => {
    const random = rng(42);
    const pick = (n: number) => Math.floor(random() * n);
    const word = (len: number) => Array.from({ length: len }, () => "abc"[pick(3)]).join("");
    for (let round = 0; round < 500; round++) {
      const secrets = Array.from({ length: 1 + pick(3) }, () => word(1 + pick(4)));
      const text = word(pick(40));
      const chunks: string[] = [];
      for (let i = 0; i < text.length; ) {
        const n = pick(6);
        chunks.push(text.slice(i, i + n));
        i += n;
      }
      expect(maskChunks(secrets, chunks), JSON.stringify({ secrets, chunks })).toBe(reference(secrets, text));
    }
  });

  it("holds back at most maxSecretLength-1 characters, and only what could start a secret", () => {
    const masker = createMasker(["world", "xyz"]);
    expect(masker.push("hello wor")).toBe("hello ");
    expect(masker.push("ld!")).toBe("***!");
    expect(masker.push("zzz")).toBe("zzz");
    expect(masker.push("wo")).toBe("");
    expect(masker.push("w")).toBe("wo");
    expect(masker.flush()).toBe("w");

    // Where nothing matches, the output is a prefix of the input, so the gap is what is held back.
    const long = createMasker(["abcdef"]);
    let input = "";
    let output = "";
    for (const ch of "abcdeabcdeabcdeXabcde") {
      input += ch;
      output += long.push(ch);
      expect(input.startsWith(output)).toBe(true);
      expect(input.length - output.length).toBeLessThanOrEqual(5);
    }
    expect(output + long.flush()).toBe(input);
  });

  it("starts afresh after flush", () => {
    const masker = createMasker(["secret"]);
    expect(masker.push("sec")).toBe("");
    expect(masker.flush()).toBe("sec");
    expect(masker.push("ret")).toBe("ret");
    expect(masker.flush()).toBe("");
  });
});
