// Who is calling and what they may do: X-Auth-Token and AK/SK signatures resolve to a Principal;
// `authorize` checks a principal's role in a project.

import crypto from "node:crypto";
import { PipewrightError } from "../errors.js";
import type { CredentialStore, MetaStore, Role } from "../store/store.js";
import { parseAuthorization, type SignedRequest, verifyAkSk } from "./aksk.js";

export interface Principal {
  /** Token id, AK, or "admin" for the bootstrap token. */
  readonly id: string;
  readonly name: string;
  readonly superuser: boolean;
  readonly role: Role;
  readonly projectIds: ReadonlySet<string>;
}

/** What an operation needs: read (viewer), operate (run/stop/retry/review), manage (create/update/delete). */
export type Permission = "read" | "operate" | "manage";

const ALLOWED: Record<Role, ReadonlySet<Permission>> = {
  runner: new Set(),
  viewer: new Set(["read"]),
  operator: new Set(["read", "operate"]),
  admin: new Set(["read", "operate", "manage"]),
};

const VERBS: Record<Permission, string> = {
  read: "see projects",
  operate: "run, stop, retry or review pipelines",
  manage: "change pipelines",
};

export const ADMIN_TOKEN_META_KEY = "admin_token_sha256";

export function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token).digest("hex");
}

export function newSecret(bytes = 24): string {
  return crypto.randomBytes(bytes).toString("base64url");
}

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  // Lengths of hex hashes are public; comparing equal-length buffers keeps the content secret.
  return ab.length === bb.length && crypto.timingSafeEqual(ab, bb);
}

export interface Authenticator {
  authenticate(req: SignedRequest): Promise<Principal>;
  /** A credential was revoked here: no request of this process is let in on it from now on. */
  revoked(id: string): void;
}

/**
 * How long a token, once found valid, is trusted without asking the store again. Runner agents
 * call several times per job, and the lookup was one database round trip per call (a tenth of a
 * job's statements on PostgreSQL). A revocation takes effect at once on the replica that made it
 * and within this long on the others.
 */
export const TOKEN_TRUST_MS = 1000;
/** Tokens remembered at most (each entry is a principal; the oldest go first). */
const TRUSTED_MAX = 10_000;

export function createAuthenticator(deps: {
  store: MetaStore & CredentialStore;
  now: () => number;
  /** Default TOKEN_TRUST_MS; 0 asks the store at every request. */
  trustMs?: number;
}): Authenticator {
  const { store, now } = deps;
  const trustMs = deps.trustMs ?? TOKEN_TRUST_MS;
  let adminHash: string | undefined;
  /** Valid tokens by the hash of their text, with when to ask the store again (monotonic ms). */
  const trusted = new Map<string, { readonly principal: Principal; readonly until: number }>();

  async function tokenPrincipal(hash: string): Promise<Principal> {
    const t = performance.now();
    const known = trusted.get(hash);
    if (known && known.until > t) return known.principal;
    trusted.delete(hash);
    // The lookup is by the SHA-256 of the token, so timing reveals nothing about the token itself.
    const rec = await store.findTokenByHash(hash);
    if (!rec || rec.revoked_time !== null) {
      throw new PipewrightError("UNAUTHENTICATED", "X-Auth-Token is unknown or revoked.");
    }
    const principal: Principal = {
      id: rec.id,
      name: rec.name,
      superuser: false,
      role: rec.role,
      projectIds: new Set(rec.project_ids),
    };
    if (trustMs > 0) {
      if (trusted.size >= TRUSTED_MAX) trusted.delete(trusted.keys().next().value!);
      trusted.set(hash, { principal, until: t + trustMs });
    }
    return principal;
  }

  return {
    async authenticate(req) {
      const tokenHeader = req.headers["x-auth-token"];
      const token = Array.isArray(tokenHeader) ? tokenHeader[0] : tokenHeader;
      if (token) {
        const hash = hashToken(token);
        adminHash ??= await store.getMeta(ADMIN_TOKEN_META_KEY);
        if (adminHash !== undefined && constantTimeEqual(hash, adminHash)) {
          return { id: "admin", name: "admin", superuser: true, role: "admin", projectIds: new Set() };
        }
        return tokenPrincipal(hash);
      }
      const authz = req.headers.authorization;
      const authHeader = Array.isArray(authz) ? authz[0] : authz;
      if (authHeader?.startsWith("SDK-HMAC-SHA256")) {
        const parsed = parseAuthorization(authHeader);
        const key = parsed ? await store.findAccessKey(parsed.access) : undefined;
        const usable = key && key.revoked_time === null ? key : undefined;
        verifyAkSk(req, (ak) => (usable && ak === usable.id ? usable.sk : undefined), new Date(now()));
        return {
          id: usable!.id,
          name: usable!.name,
          superuser: false,
          role: usable!.role,
          projectIds: new Set(usable!.project_ids),
        };
      }
      throw new PipewrightError("UNAUTHENTICATED");
    },

    revoked(id) {
      for (const [hash, { principal }] of trusted) if (principal.id === id) trusted.delete(hash);
    },
  };
}

/**
 * Checks that the principal may act on the project. A project the caller cannot see answers
 * exactly like a missing one (DEVPIPE.00011412), so ids of other tenants' projects do not leak.
 */
export function authorize(p: Principal, projectId: string, permission: Permission): void {
  if (!p.superuser && !p.projectIds.has(projectId)) {
    throw new PipewrightError(
      "PROJECT_NOT_FOUND",
      `Project ${projectId} does not exist or you are not a member of it.`,
    );
  }
  if (!ALLOWED[p.role].has(permission)) {
    throw new PipewrightError("NO_PERMISSION", `Role ${p.role} may not ${VERBS[permission]}.`);
  }
}
