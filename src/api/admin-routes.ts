// Pipewright's own admin API (not CodeArts's): projects, X-Auth-Tokens and AK/SK access keys.
// The bootstrap admin may do everything; a token with role admin may issue credentials for the
// projects it administers, never beyond them.

import crypto from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { invalid, PipewrightError } from "../errors.js";
import { LIMITS } from "../pipeline/limits.js";
import { ID_PATTERN } from "../pipeline/vocabulary.js";
import { type CredentialRecord, ROLES, type Role } from "../store/store.js";
import { authorize, hashToken, newSecret, type Principal } from "./auth.js";
import { principalOf, type RouteContext } from "./context.js";

const credentialBody = {
  type: "object",
  required: ["role", "project_ids"],
  properties: {
    name: { type: "string", minLength: 1, maxLength: LIMITS.nameLength },
    role: { type: "string", enum: ROLES },
    project_ids: {
      type: "array",
      items: { type: "string", pattern: ID_PATTERN },
      maxItems: LIMITS.projectsPerCredential,
    },
  },
} as const;

const credentialOut = {
  type: "object",
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    role: { type: "string" },
    project_ids: { type: "array", items: { type: "string" } },
    create_time: { type: "integer" },
    revoked_time: { type: ["integer", "null"] },
  },
} as const;

interface CredentialInput {
  name?: string;
  role: Role;
  project_ids: string[];
}

export function registerAdminRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store, newId } = ctx;
  const now = (): number => ctx.clock.now();

  const principal = (req: FastifyRequest): Promise<Principal> => principalOf(ctx, req);

  async function requireSuperuser(req: FastifyRequest): Promise<void> {
    if (!(await principal(req)).superuser) throw new PipewrightError("SUPERUSER_ONLY");
  }

  /** Checks the projects exist and that the caller administers each of them. */
  async function checkGrantable(req: FastifyRequest, input: CredentialInput): Promise<void> {
    const p = await principal(req);
    if (input.role === "runner") {
      if (!p.superuser)
        throw new PipewrightError("SUPERUSER_ONLY", "Only the bootstrap admin may issue runner credentials.");
      if (input.project_ids.length > 0)
        throw invalid("project_ids", "must be empty for role runner: runners serve every project");
      return;
    }
    if (new Set(input.project_ids).size !== input.project_ids.length) {
      throw invalid("project_ids", "contains duplicates");
    }
    for (const [i, id] of input.project_ids.entries()) {
      if (!(await store.getProject(id))) throw invalid(`project_ids[${i}]`, `project ${id} does not exist`);
      if (!p.superuser) authorize(p, id, "manage");
    }
    if (!p.superuser && input.project_ids.length === 0) {
      throw new PipewrightError(
        "SUPERUSER_ONLY",
        "Only the bootstrap admin may issue a credential without projects.",
      );
    }
  }

  /** A non-superuser sees the credentials all of whose projects it administers. */
  function visible(p: Principal, c: CredentialRecord): boolean {
    return (
      p.superuser ||
      (p.role === "admin" && c.project_ids.length > 0 && c.project_ids.every((id) => p.projectIds.has(id)))
    );
  }

  app.post(
    "/admin/v1/projects",
    {
      schema: {
        tags: ["admin"],
        summary: "Create a project (bootstrap admin only)",
        body: {
          type: "object",
          required: ["name"],
          properties: {
            name: { type: "string", minLength: 1, maxLength: LIMITS.nameLength, pattern: "^[^\\s].*$" },
          },
        },
        response: {
          200: { type: "object", properties: { project_id: { type: "string" }, name: { type: "string" } } },
        },
      },
    },
    async (req) => {
      await requireSuperuser(req);
      const { name } = req.body as { name: string };
      if (await store.findProjectByName(name)) {
        throw new PipewrightError("PROJECT_NAME_TAKEN", `A project named "${name}" exists.`);
      }
      const project = { id: newId(), name, create_time: now() };
      await store.createProject(project);
      return { project_id: project.id, name: project.name };
    },
  );

  app.get(
    "/admin/v1/projects",
    {
      schema: {
        tags: ["admin"],
        summary: "List the projects the caller may see",
        response: {
          200: {
            type: "object",
            properties: {
              projects: {
                type: "array",
                items: {
                  type: "object",
                  properties: {
                    project_id: { type: "string" },
                    name: { type: "string" },
                    create_time: { type: "integer" },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (req) => {
      const p = await principal(req);
      const all = await store.listProjects();
      return {
        projects: all
          .filter((x) => p.superuser || p.projectIds.has(x.id))
          .map((x) => ({ project_id: x.id, name: x.name, create_time: x.create_time })),
      };
    },
  );

  app.post(
    "/admin/v1/tokens",
    {
      schema: {
        tags: ["admin"],
        summary: "Issue an X-Auth-Token (shown once)",
        body: credentialBody,
        response: {
          200: { ...credentialOut, properties: { ...credentialOut.properties, token: { type: "string" } } },
        },
      },
    },
    async (req) => {
      const input = req.body as CredentialInput;
      await checkGrantable(req, input);
      const token = `pw_${newSecret()}`;
      const rec: CredentialRecord = {
        id: newId(),
        name: input.name ?? "token",
        role: input.role,
        project_ids: input.project_ids,
        create_time: now(),
        revoked_time: null,
      };
      await store.createToken(rec, hashToken(token));
      return { ...rec, token };
    },
  );

  app.get(
    "/admin/v1/tokens",
    {
      schema: {
        tags: ["admin"],
        summary: "List tokens (never their secrets)",
        response: {
          200: { type: "object", properties: { tokens: { type: "array", items: credentialOut } } },
        },
      },
    },
    async (req) => {
      const p = await principal(req);
      return { tokens: (await store.listTokens()).filter((t) => visible(p, t)) };
    },
  );

  app.delete(
    "/admin/v1/tokens/:id",
    {
      schema: {
        tags: ["admin"],
        summary: "Revoke a token",
        params: {
          type: "object",
          required: ["id"],
          properties: { id: { type: "string", pattern: ID_PATTERN } },
        },
        response: {
          200: { type: "object", properties: { id: { type: "string" }, revoked: { type: "boolean" } } },
        },
      },
    },
    async (req) => {
      const p = await principal(req);
      const { id } = req.params as { id: string };
      const rec = (await store.listTokens()).find((t) => t.id === id);
      if (!rec || !visible(p, rec)) throw new PipewrightError("TOKEN_NOT_FOUND", `No token ${id}.`);
      if (!(await store.revokeToken(id, now())))
        throw new PipewrightError("TOKEN_NOT_FOUND", `Token ${id} is already revoked.`);
      ctx.auth.revoked(id);
      return { id, revoked: true };
    },
  );

  app.post(
    "/admin/v1/access-keys",
    {
      schema: {
        tags: ["admin"],
        summary: "Issue an AK/SK pair for the official SDKs (SK shown once)",
        body: credentialBody,
        response: {
          200: {
            ...credentialOut,
            properties: { ...credentialOut.properties, ak: { type: "string" }, sk: { type: "string" } },
          },
        },
      },
    },
    async (req) => {
      const input = req.body as CredentialInput;
      await checkGrantable(req, input);
      // Huawei Cloud AKs are 20 upper-case alphanumerics and SKs 40 characters; keep the shapes.
      const ak = crypto
        .randomBytes(15)
        .toString("base64url")
        .toUpperCase()
        .replace(/[^A-Z0-9]/g, "X")
        .slice(0, 20);
      const sk = newSecret(30);
      const rec = {
        id: ak,
        sk,
        name: input.name ?? "access-key",
        role: input.role,
        project_ids: input.project_ids,
        create_time: now(),
        revoked_time: null,
      };
      await store.createAccessKey(rec);
      const { sk: _sk, ...shown } = rec;
      return { ...shown, ak, sk };
    },
  );

  app.get(
    "/admin/v1/access-keys",
    {
      schema: {
        tags: ["admin"],
        summary: "List access keys (never their SKs)",
        response: {
          200: {
            type: "object",
            properties: {
              access_keys: {
                type: "array",
                items: {
                  ...credentialOut,
                  properties: { ...credentialOut.properties, ak: { type: "string" } },
                },
              },
            },
          },
        },
      },
    },
    async (req) => {
      const p = await principal(req);
      const keys = (await store.listAccessKeys()).filter((k) => visible(p, k));
      return { access_keys: keys.map(({ sk: _sk, ...k }) => ({ ...k, ak: k.id })) };
    },
  );

  app.delete(
    "/admin/v1/access-keys/:ak",
    {
      schema: {
        tags: ["admin"],
        summary: "Revoke an access key",
        params: {
          type: "object",
          required: ["ak"],
          properties: { ak: { type: "string", minLength: 1, maxLength: 64 } },
        },
        response: {
          200: { type: "object", properties: { ak: { type: "string" }, revoked: { type: "boolean" } } },
        },
      },
    },
    async (req) => {
      const p = await principal(req);
      const { ak } = req.params as { ak: string };
      const rec = await store.findAccessKey(ak);
      if (!rec || !visible(p, rec)) throw new PipewrightError("ACCESS_KEY_NOT_FOUND", `No access key ${ak}.`);
      if (!(await store.revokeAccessKey(ak, now()))) {
        throw new PipewrightError("ACCESS_KEY_NOT_FOUND", `Access key ${ak} is already revoked.`);
      }
      return { ak, revoked: true };
    },
  );
}
