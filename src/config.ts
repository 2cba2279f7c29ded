// Server configuration: loaded once by a pure function (flag > env > default), validated, frozen.
// Nothing below main.ts reads process.env; everything gets this object instead.

import fs from "node:fs";
import net from "node:net";
import path from "node:path";

export interface Config {
  readonly host: string;
  /**
   * Host names (Host header) answered besides loopback and the listen address: the public
   * name(s) of the server, the one forges deliver webhooks to. `*` answers any.
   */
  readonly allowedHosts: readonly string[];
  /** Proxies (addresses or CIDRs) whose X-Forwarded-For and X-Forwarded-Host are believed. */
  readonly trustProxy: string | undefined;
  readonly port: number;
  readonly dataDir: string;
  /** Bootstrap admin token; when undefined one is generated and stored at first start. */
  readonly adminToken: string | undefined;
  /** `sqlite:<file>` by default, or a postgres:// URL. */
  readonly databaseUrl: string;
  readonly maxBatchSize: number;
  /** How many jobs the embedded runner executes at once. */
  readonly runnerSlots: number;
  /** Per-step log cap in bytes. */
  readonly maxLogBytes: number;
  /** Default job timeout in seconds when a job sets none. */
  readonly defaultJobTimeoutSeconds: number;
  readonly localRunner: boolean;
  /** A job's lease: a runner that does not renew it within this time has lost the job. */
  readonly leaseSeconds: number;
  readonly logLevel: string;
  /** Clones of local paths and file:// URLs; off by default (a run could read the server's disk). */
  readonly allowLocalClone: boolean;
  /** The docker or podman the embedded runner's container-image steps run through; none: they fail. */
  readonly containerRuntime: string | undefined;
  /** How long SIGTERM waits for running jobs before it stops them (seconds). */
  readonly drainTimeoutSeconds: number;
  /** Where artifacts' bytes live: a directory (default `<dataDir>/artifacts`) or `s3://bucket/prefix?…`. */
  readonly artifactsUrl: string;
  /** The cap on one artifact, in bytes. */
  readonly maxArtifactBytes: number;
  /** What is kept how long: days (0: for ever), ended runs per pipeline (0: all). */
  readonly retention: {
    readonly runsDays: number;
    readonly runsPerPipeline: number;
    readonly logsDays: number;
    readonly artifactsDays: number;
    readonly idempotencyDays: number;
    readonly cachesDays: number;
  };
  /** The cap on one cache entry, and on a project's entries in all. */
  readonly maxCacheBytes: number;
  readonly cacheQuotaBytes: number;
  /**
   * Where the keyring that seals secrets at rest comes from: a file (`--secret-key-file`), the
   * keys themselves (`PIPEWRIGHT_SECRET_KEY`, environment only: a flag would show in `ps`), or, in
   * the embedded shape, `<dataDir>/secret.key`, generated at first start.
   */
  /** Notices may go to loopback, private and link-local addresses (off: SSRF protection). */
  readonly allowPrivateNoticeTargets: boolean;
  /** The SMTP server email notices go through (`smtp://user:pass@host:port`, `smtps://…`); undefined: no email. */
  readonly smtpUrl: string | undefined;
  /** The From of notice mails. */
  readonly smtpFrom: string;
  /** The UI's base URL, for links in notices; undefined: the address the server listens on. */
  readonly publicUrl: string | undefined;
  /** How long one notice attempt may take (seconds). */
  readonly noticeTimeoutSeconds: number;
  /**
   * How often each replica looks for work no wakeup told it of (queued elsewhere, expired
   * leases, waiting runs): milliseconds. Internal (PIPEWRIGHT_DISPATCH_POLL_MS, no flag): tests
   * make it long to prove that wakeups alone start work.
   */
  readonly dispatchPollMs: number;
  /**
   * How often runners renew their jobs' leases (told to them at registration): milliseconds, at
   * most a third of the lease. Internal (PIPEWRIGHT_HEARTBEAT_MS, no flag): tests make it long to
   * prove what confirms a job besides a heartbeat.
   */
  readonly heartbeatMs: number;
  readonly secretKey:
    | { readonly from: "file"; readonly file: string; readonly generate: boolean }
    | { readonly from: "env"; readonly keys: string };
}

interface Option {
  readonly flag: string;
  readonly env: string;
  readonly key: keyof Config;
}

const OPTIONS: readonly Option[] = [
  { flag: "host", env: "HOST", key: "host" },
  { flag: "port", env: "PORT", key: "port" },
  { flag: "allowed-hosts", env: "PIPEWRIGHT_ALLOWED_HOSTS", key: "allowedHosts" },
  { flag: "trust-proxy", env: "PIPEWRIGHT_TRUST_PROXY", key: "trustProxy" },
  { flag: "data-dir", env: "PIPEWRIGHT_DATA_DIR", key: "dataDir" },
  { flag: "admin-token", env: "PIPEWRIGHT_ADMIN_TOKEN", key: "adminToken" },
  { flag: "database-url", env: "DATABASE_URL", key: "databaseUrl" },
  { flag: "max-batch-size", env: "PIPEWRIGHT_MAX_BATCH_SIZE", key: "maxBatchSize" },
  { flag: "runner-slots", env: "PIPEWRIGHT_RUNNER_SLOTS", key: "runnerSlots" },
  { flag: "max-log-bytes", env: "PIPEWRIGHT_MAX_LOG_BYTES", key: "maxLogBytes" },
  { flag: "default-job-timeout", env: "PIPEWRIGHT_DEFAULT_JOB_TIMEOUT", key: "defaultJobTimeoutSeconds" },
  { flag: "log-level", env: "PIPEWRIGHT_LOG_LEVEL", key: "logLevel" },
  { flag: "lease-seconds", env: "PIPEWRIGHT_LEASE_SECONDS", key: "leaseSeconds" },
  { flag: "drain-timeout", env: "PIPEWRIGHT_DRAIN_TIMEOUT", key: "drainTimeoutSeconds" },
  { flag: "artifacts-url", env: "PIPEWRIGHT_ARTIFACTS_URL", key: "artifactsUrl" },
  { flag: "max-artifact-bytes", env: "PIPEWRIGHT_MAX_ARTIFACT_BYTES", key: "maxArtifactBytes" },
  { flag: "max-cache-bytes", env: "PIPEWRIGHT_MAX_CACHE_BYTES", key: "maxCacheBytes" },
  { flag: "cache-quota-bytes", env: "PIPEWRIGHT_CACHE_QUOTA_BYTES", key: "cacheQuotaBytes" },
  { flag: "smtp-url", env: "PIPEWRIGHT_SMTP_URL", key: "smtpUrl" },
  { flag: "smtp-from", env: "PIPEWRIGHT_SMTP_FROM", key: "smtpFrom" },
  { flag: "public-url", env: "PIPEWRIGHT_PUBLIC_URL", key: "publicUrl" },
  { flag: "notice-timeout", env: "PIPEWRIGHT_NOTICE_TIMEOUT", key: "noticeTimeoutSeconds" },
  { flag: "container-runtime", env: "PIPEWRIGHT_CONTAINER_RUNTIME", key: "containerRuntime" },
];

/** Retention settings: flag, environment variable, default. */
const RETENTION = [
  { flag: "keep-runs-days", env: "PIPEWRIGHT_KEEP_RUNS_DAYS", key: "runsDays", fallback: 365 },
  {
    flag: "keep-runs-per-pipeline",
    env: "PIPEWRIGHT_KEEP_RUNS_PER_PIPELINE",
    key: "runsPerPipeline",
    fallback: 1000,
  },
  { flag: "keep-logs-days", env: "PIPEWRIGHT_KEEP_LOGS_DAYS", key: "logsDays", fallback: 90 },
  { flag: "keep-artifacts-days", env: "PIPEWRIGHT_KEEP_ARTIFACTS_DAYS", key: "artifactsDays", fallback: 30 },
  {
    flag: "keep-idempotency-days",
    env: "PIPEWRIGHT_KEEP_IDEMPOTENCY_DAYS",
    key: "idempotencyDays",
    fallback: 7,
  },
  { flag: "keep-caches-days", env: "PIPEWRIGHT_KEEP_CACHES_DAYS", key: "cachesDays", fallback: 14 },
] as const;

/** Flags that take no value (`--x` is true, `--no-x` false). */
const BOOLEAN_FLAGS: readonly string[] = [
  "local-runner",
  "allow-local-clone",
  "allow-private-notice-targets",
];

const SECRET_KEY_FILE = { flag: "secret-key-file", env: "PIPEWRIGHT_SECRET_KEY_FILE" } as const;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses `--name value`, `--name=value` and `--no-name` flags. Unknown flags are an error. */
export function parseFlags(argv: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  const known = new Set([
    ...OPTIONS.map((o) => o.flag),
    ...RETENTION.map((o) => o.flag),
    ...BOOLEAN_FLAGS,
    SECRET_KEY_FILE.flag,
  ]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument "${arg}"`);
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (name.startsWith("no-") && known.has(name.slice(3))) {
      flags.set(name.slice(3), "false");
      continue;
    }
    if (!known.has(name)) throw new ConfigError(`unknown option --${name}`);
    if (value === undefined) {
      if (BOOLEAN_FLAGS.includes(name)) {
        value = "true";
      } else {
        value = argv[++i];
        if (value === undefined) throw new ConfigError(`option --${name} needs a value`);
      }
    }
    flags.set(name, value);
  }
  return flags;
}

/**
 * The absolute path of an executable: `name` itself when it holds a slash (relative to `cwd`),
 * else the first of that name on `PATH`; undefined when there is none.
 */
export function findExecutable(
  name: string,
  PATH: string | undefined,
  cwd = process.cwd(),
): string | undefined {
  const runnable = (p: string): boolean => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (name.includes("/")) {
    const p = path.resolve(cwd, name);
    return runnable(p) ? p : undefined;
  }
  for (const dir of (PATH ?? "").split(":").filter(Boolean)) {
    const p = path.join(dir, name);
    if (runnable(p)) return p;
  }
  return undefined;
}

function positiveInt(name: string, raw: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a positive integer, got "${raw}"`);
  const n = Number(raw);
  if (n < 1 || n > max) throw new ConfigError(`${name} must be between 1 and ${max}, got ${raw}`);
  return n;
}

/** A chosen admin token's least length: 32 characters (the generated ones have 41). */
export const ADMIN_TOKEN_MIN_LENGTH = 32;
/** ... and least number of different characters, so "aaaa…" or "12341234…" is not taken either. */
export const ADMIN_TOKEN_MIN_DISTINCT = 10;

/**
 * The admin token may do everything: one chosen by hand must be long and varied enough that
 * guessing it (even at the rate a server answers) is hopeless.
 */
function checkAdminToken(name: string, token: string): void {
  if (token.length < ADMIN_TOKEN_MIN_LENGTH || new Set(token).size < ADMIN_TOKEN_MIN_DISTINCT) {
    throw new ConfigError(
      `${name} must be at least ${ADMIN_TOKEN_MIN_LENGTH} characters long, of at least ` +
        `${ADMIN_TOKEN_MIN_DISTINCT} different characters (make one with: openssl rand -base64 32)`,
    );
  }
}

/** A host name, `*.name`, or an IP address ([…] for IPv6), with a port or not (it is ignored). */
const HOST_ENTRY = /^(\*\.)?(\[[0-9a-f:.]+\]|[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?)(:\d{1,5})?\.?$/i;

function parseAllowedHosts(name: string, raw: string | undefined): readonly string[] {
  if (raw === undefined) return [];
  const entries = raw
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  for (const e of entries) {
    if (e === "*") continue;
    if (!HOST_ENTRY.test(e) || e.includes("..")) {
      throw new ConfigError(
        `${name}: "${e}" is not a host name (give names like ci.example.com, *.example.com or *)`,
      );
    }
  }
  return entries;
}

function parseTrustProxy(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const entries = raw
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  for (const e of entries) {
    const [addr = "", bits, more] = e.split("/");
    const family = net.isIP(addr);
    const bitsOk =
      bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (family === 0 || !bitsOk || more !== undefined) {
      throw new ConfigError(`${name}: "${e}" is not an address or CIDR (e.g. 10.0.0.5 or 10.0.0.0/8)`);
    }
  }
  return entries.length > 0 ? entries.join(",") : undefined;
}

export function loadConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): Config {
  const flags = parseFlags(argv);
  const raw = (o: Option): string | undefined => flags.get(o.flag) ?? (env[o.env] || undefined);
  const get = (key: keyof Config): string | undefined => {
    const o = OPTIONS.find((x) => x.key === key);
    return o ? raw(o) : undefined;
  };
  const nameOf = (key: keyof Config): string => {
    const o = OPTIONS.find((x) => x.key === key)!;
    return `--${o.flag} / ${o.env}`;
  };

  const dataDir = path.resolve(cwd, get("dataDir") ?? ".pipewright");
  const databaseUrl = get("databaseUrl") ?? `sqlite:${path.join(dataDir, "pipewright.db")}`;
  if (!/^(sqlite:|postgres:\/\/|postgresql:\/\/)/.test(databaseUrl)) {
    throw new ConfigError(
      `${nameOf("databaseUrl")} must start with sqlite: or postgres://, got "${databaseUrl}"`,
    );
  }
  const adminToken = get("adminToken");
  if (adminToken !== undefined) checkAdminToken(nameOf("adminToken"), adminToken);
  const localRunnerFlag = flags.get("local-runner") ?? env.PIPEWRIGHT_LOCAL_RUNNER;
  if (localRunnerFlag !== undefined && !["true", "false", "1", "0"].includes(localRunnerFlag)) {
    throw new ConfigError(`--local-runner / PIPEWRIGHT_LOCAL_RUNNER must be true or false`);
  }
  const allowLocalFlag = flags.get("allow-local-clone") ?? env.PIPEWRIGHT_ALLOW_LOCAL_CLONE;
  if (allowLocalFlag !== undefined && !["true", "false", "1", "0"].includes(allowLocalFlag)) {
    throw new ConfigError(`--allow-local-clone / PIPEWRIGHT_ALLOW_LOCAL_CLONE must be true or false`);
  }
  const allowPrivateFlag =
    flags.get("allow-private-notice-targets") ?? env.PIPEWRIGHT_ALLOW_PRIVATE_NOTICE_TARGETS;
  if (allowPrivateFlag !== undefined && !["true", "false", "1", "0"].includes(allowPrivateFlag)) {
    throw new ConfigError(
      `--allow-private-notice-targets / PIPEWRIGHT_ALLOW_PRIVATE_NOTICE_TARGETS must be true or false`,
    );
  }
  const smtpUrl = get("smtpUrl");
  if (smtpUrl !== undefined && !/^smtps?:\/\/[^/]/.test(smtpUrl)) {
    // The value is not echoed: it may hold the SMTP password.
    throw new ConfigError(`${nameOf("smtpUrl")} must be an smtp:// or smtps:// URL`);
  }
  const publicUrl = get("publicUrl");
  if (publicUrl !== undefined && !/^https?:\/\/[^/]/.test(publicUrl)) {
    throw new ConfigError(`${nameOf("publicUrl")} must be an http:// or https:// URL, got "${publicUrl}"`);
  }
  const logLevel = get("logLevel") ?? "info";
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(logLevel)) {
    throw new ConfigError(`${nameOf("logLevel")} must be one of fatal,error,warn,info,debug,trace,silent`);
  }

  const keyFile = flags.get(SECRET_KEY_FILE.flag) ?? (env[SECRET_KEY_FILE.env] || undefined);
  const keyText = env.PIPEWRIGHT_SECRET_KEY || undefined;
  if (keyFile !== undefined && keyText !== undefined) {
    throw new ConfigError(
      `give the secret key once: --secret-key-file / ${SECRET_KEY_FILE.env} or PIPEWRIGHT_SECRET_KEY, not both`,
    );
  }
  const embedded = databaseUrl.startsWith("sqlite:");
  if (!embedded && keyFile === undefined && keyText === undefined) {
    throw new ConfigError(
      "with PostgreSQL every replica needs the same secret key: give it with --secret-key-file / " +
        `${SECRET_KEY_FILE.env} or PIPEWRIGHT_SECRET_KEY (make one with: openssl rand -base64 32)`,
    );
  }
  const secretKey: Config["secretKey"] =
    keyText !== undefined
      ? { from: "env", keys: keyText }
      : keyFile !== undefined
        ? { from: "file", file: path.resolve(cwd, keyFile), generate: false }
        : { from: "file", file: path.join(dataDir, "secret.key"), generate: true };

  return Object.freeze({
    host: get("host") ?? "127.0.0.1",
    allowedHosts: parseAllowedHosts(nameOf("allowedHosts"), get("allowedHosts")),
    trustProxy: parseTrustProxy(nameOf("trustProxy"), get("trustProxy")),
    port: (() => {
      const p = get("port");
      if (p === "0") return 0;
      return p === undefined ? 8080 : positiveInt(nameOf("port"), p, 65535);
    })(),
    dataDir,
    adminToken,
    databaseUrl,
    maxBatchSize: positiveInt(nameOf("maxBatchSize"), get("maxBatchSize") ?? "1000", 100_000),
    runnerSlots: positiveInt(nameOf("runnerSlots"), get("runnerSlots") ?? "16", 1024),
    maxLogBytes: positiveInt(nameOf("maxLogBytes"), get("maxLogBytes") ?? String(64 * 1024 * 1024)),
    defaultJobTimeoutSeconds: positiveInt(
      nameOf("defaultJobTimeoutSeconds"),
      get("defaultJobTimeoutSeconds") ?? "3600",
    ),
    localRunner: localRunnerFlag === undefined ? true : localRunnerFlag === "true" || localRunnerFlag === "1",
    leaseSeconds: positiveInt(nameOf("leaseSeconds"), get("leaseSeconds") ?? "30", 3600),
    logLevel,
    allowLocalClone: allowLocalFlag === "true" || allowLocalFlag === "1",
    containerRuntime: (() => {
      const r = get("containerRuntime");
      if (r === undefined) return undefined;
      const found = findExecutable(r, env.PATH, cwd);
      if (found === undefined)
        throw new ConfigError(
          `${nameOf("containerRuntime")} must be an executable file (docker or podman) or one on PATH, got "${r}"`,
        );
      return found;
    })(),
    drainTimeoutSeconds: positiveInt(
      nameOf("drainTimeoutSeconds"),
      get("drainTimeoutSeconds") ?? "600",
      86_400,
    ),
    secretKey,
    dispatchPollMs:
      env.PIPEWRIGHT_DISPATCH_POLL_MS === undefined || env.PIPEWRIGHT_DISPATCH_POLL_MS === ""
        ? 1000
        : positiveInt("PIPEWRIGHT_DISPATCH_POLL_MS", env.PIPEWRIGHT_DISPATCH_POLL_MS, 86_400_000),
    heartbeatMs:
      env.PIPEWRIGHT_HEARTBEAT_MS === undefined || env.PIPEWRIGHT_HEARTBEAT_MS === ""
        ? 1000
        : positiveInt("PIPEWRIGHT_HEARTBEAT_MS", env.PIPEWRIGHT_HEARTBEAT_MS, 86_400_000),
    allowPrivateNoticeTargets: allowPrivateFlag === "true" || allowPrivateFlag === "1",
    smtpUrl,
    smtpFrom: get("smtpFrom") ?? "Pipewright <pipewright@localhost>",
    publicUrl,
    noticeTimeoutSeconds: positiveInt(
      nameOf("noticeTimeoutSeconds"),
      get("noticeTimeoutSeconds") ?? "10",
      300,
    ),
    artifactsUrl: (() => {
      const u = get("artifactsUrl");
      if (u === undefined) return path.join(dataDir, "artifacts");
      if (u.startsWith("s3://")) return u;
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(u))
        throw new ConfigError(`${nameOf("artifactsUrl")} must be a directory or an s3:// URL, got "${u}"`);
      return path.resolve(cwd, u);
    })(),
    maxArtifactBytes: positiveInt(nameOf("maxArtifactBytes"), get("maxArtifactBytes") ?? String(1024 ** 3)),
    maxCacheBytes: positiveInt(nameOf("maxCacheBytes"), get("maxCacheBytes") ?? String(1024 ** 3)),
    cacheQuotaBytes: positiveInt(nameOf("cacheQuotaBytes"), get("cacheQuotaBytes") ?? String(10 * 1024 ** 3)),
    retention: Object.fromEntries(
      RETENTION.map((o) => {
        const raw = flags.get(o.flag) ?? (env[o.env] || undefined);
        if (raw === undefined) return [o.key, o.fallback];
        if (!/^\d{1,9}$/.test(raw))
          throw new ConfigError(
            `--${o.flag} / ${o.env} must be a whole number (0: keep for ever), got "${raw}"`,
          );
        return [o.key, Number(raw)];
      }),
    ) as unknown as Config["retention"],
  });
}
