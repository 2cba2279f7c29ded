// A real SMTP server for notice mails (the smtp-server package), on a loopback port: it keeps
// every message as received (headers and body, as text).

import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  readonly from: string;
  readonly to: readonly string[];
  /** The raw message: headers, a blank line, the body. */
  readonly raw: string;
  /** The Subject header, its encoded words decoded. */
  readonly subject: string;
  /** The body, quoted-printable decoded (the mails are single-part text). */
  readonly text: string;
}

/** RFC 2047 Q and B encoded words, as mailers write non-ASCII or long subjects. */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_m, _charset: string, enc: string, text: string) =>
      enc.toUpperCase() === "B"
        ? Buffer.from(text, "base64").toString("utf8")
        : Buffer.from(
            text
              .replace(/_/g, " ")
              .replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
            "latin1",
          ).toString("utf8"),
    );
}

function parseMail(raw: string): { subject: string; text: string } {
  const split = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, " ");
  let body = raw.slice(split + 4);
  const subject = /^Subject: (.*)$/im.exec(head)?.[1] ?? "";
  if (/^Content-Transfer-Encoding: quoted-printable/im.test(head)) {
    const bytes = body
      .replace(/=\r\n/g, "")
      .replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
    body = Buffer.from(bytes, "latin1").toString("utf8");
  }
  return { subject: decodeWords(subject), text: body.replace(/\r\n/g, "\n") };
}

export interface SmtpSink {
  /** smtp://user:password@127.0.0.1:<port> */
  readonly url: string;
  readonly mails: ReceivedMail[];
  /** The user and password clients logged in with. */
  readonly logins: { user: string; password: string }[];
  waitFor(n: number, ms?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const mails: ReceivedMail[] = [];
  const logins: { user: string; password: string }[] = [];
  const server = new SMTPServer({
    // Plain SMTP on loopback: no certificate to make, and the login goes over it in clear.
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      logins.push({ user: auth.username ?? "", password: auth.password ?? "" });
      callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          ...parseMail(raw),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const addr = server.server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    url: `smtp://notices:mail-pass@127.0.0.1:${port}`,
    mails,
    logins,
    async waitFor(n, ms = 20_000) {
      const deadline = Date.now() + ms;
      while (mails.length < n) {
        if (Date.now() > deadline) throw new Error(`the SMTP server got ${mails.length} of ${n} mails`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return mails.slice(0, n);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
