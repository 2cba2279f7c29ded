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
}

export function createAuthenticator(deps: {
  store: MetaStore & CredentialStore;
  now: () => number;
}): Authenticator {
  const { store, now } = deps;
  let adminHash: string | undefined;

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
        // The lookup is by the SHA-256 of the token, so timing reveals nothing about the token itself.
        const rec = await store.findTokenByHash(hash);
        if (!rec || rec.revoked_time !== null) {
          throw new PipewrightError("UNAUTHENTICATED", "X-Auth-Token is unknown or revoked.");
        }
        return {
          id: rec.id,
          name: rec.name,
          superuser: false,
          role: rec.role,
          projectIds: new Set(rec.project_ids),
        };
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
    throw new PipewrightError(
      "NO_PERMISSION",
      `Role ${p.role} may not ${permission === "operate" ? "run, stop, retry or review pipelines" : "change pipelines"}.`,
    );
  }
}
