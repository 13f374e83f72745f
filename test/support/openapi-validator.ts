/**
 * @seriousme/openapi-schema-validator reads its JSON schemas from disk on first use, which
 * workerd's file system cannot do. This hands it the same OpenAPI 3.1 schema, bundled at
 * build time, compiled exactly as the library compiles it; validation itself (schema, then
 * $ref checks) is the library's own.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import openApi31Schema from '@seriousme/openapi-schema-validator/schemas/v3.1/schema.json';

export function openApi31Validator(): Validator {
  const validator = new Validator();
  const ajv = new Ajv2020({ strict: false });
  addFormats(ajv);
  ajv.addFormat('media-range', true);
  (validator as unknown as { ajvValidators: Record<string, unknown> }).ajvValidators['3.1'] = ajv.compile(openApi31Schema);
  return validator;
}
