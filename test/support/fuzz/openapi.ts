/**
 * The slice of an OpenAPI 3.1 document the fuzzer reads: operations, their parameters and
 * request bodies, and local `$ref`s into `components`.
 */
export type JsonSchema = {
  $ref?: string;
  type?: string | string[];
  nullable?: boolean;
  enum?: unknown[];
  const?: unknown;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number | boolean;
  exclusiveMaximum?: number | boolean;
  default?: unknown;
  example?: unknown;
  [key: string]: unknown;
};

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: JsonSchema;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, { parameters?: OpenApiParameter[]; requestBody?: { required?: boolean; content: Record<string, { schema?: JsonSchema }> }; security?: unknown[] }>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

export interface Operation {
  /** `METHOD /path/{param}`, the operation's name in test titles and reports. */
  key: string;
  method: string;
  path: string;
  pathParams: OpenApiParameter[];
  queryParams: OpenApiParameter[];
  /** Media type → schema of the request body, when the operation takes one. */
  body: { required: boolean; content: Record<string, JsonSchema> } | null;
  authenticated: boolean;
}

const HTTP_METHODS = ['get', 'put', 'post', 'patch', 'delete'];

export function operationsOf(doc: OpenApiDocument): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!HTTP_METHODS.includes(method)) continue;
      const params = op.parameters ?? [];
      const content = op.requestBody?.content;
      ops.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path'),
        queryParams: params.filter((p) => p.in === 'query'),
        body: content
          ? { required: op.requestBody?.required ?? false, content: Object.fromEntries(Object.entries(content).map(([type, media]) => [type, media.schema ?? {}])) }
          : null,
        authenticated: (op.security ?? []).length > 0,
      });
    }
  }
  return ops;
}

/** Follows `#/components/...` references (the only kind zod-openapi writes). */
export function resolver(doc: OpenApiDocument) {
  return function resolve(schema: JsonSchema, depth = 0): JsonSchema {
    if (!schema.$ref) return schema;
    if (depth > 20) throw new Error(`$ref cycle at ${schema.$ref}`);
    const target = schema.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<any>((node, key) => node?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
    if (!target) throw new Error(`unresolved $ref ${schema.$ref}`);
    return resolve(target as JsonSchema, depth + 1);
  };
}
