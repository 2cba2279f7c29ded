// Route types from the route schemas: with this provider a handler's params, query and body are
// typed by their JSON Schemas, and its answer must fit the response schema, so a view that drifts
// from what the API promises fails the type check.

import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyTypeProvider,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import type { FromSchema, JSONSchema } from "json-schema-to-ts";
import type { Answer } from "../wire/types.js";

export interface JsonSchemaTypes extends FastifyTypeProvider {
  validator: this["schema"] extends JSONSchema ? FromSchema<this["schema"]> : unknown;
  serializer: this["schema"] extends JSONSchema ? Answer<this["schema"]> : unknown;
}

/** The app as route modules see it: typed by the schemas of each route. */
export type TypedApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  JsonSchemaTypes
>;

export function typed(app: FastifyInstance): TypedApp {
  return app.withTypeProvider<JsonSchemaTypes>();
}
