// A small JSON Schema validator for the subset docs/audit.schema.json uses ($ref to #/$defs,
// oneOf, type, const, enum, required, properties, items, minimum, minLength, pattern): the
// NDJSON of `audit --json` is checked line by line against the schema file itself.

type Schema = Record<string, unknown>;

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeOk(v: unknown, t: string): boolean {
  const actual = typeOf(v);
  return actual === t || (t === 'number' && actual === 'integer');
}

export class JsonSchema {
  constructor(private readonly root: Schema) {}

  private resolve(ref: string): Schema {
    const m = /^#\/\$defs\/(.+)$/.exec(ref);
    const defs = this.root.$defs as Record<string, Schema> | undefined;
    const s = m ? defs?.[m[1]!] : undefined;
    if (!s) throw new Error(`unresolvable $ref ${ref}`);
    return s;
  }

  /** Errors (empty when `value` is valid), each with its JSON path. */
  validate(value: unknown, schema: Schema = this.root, at = '$'): string[] {
    if (typeof schema.$ref === 'string') return this.validate(value, this.resolve(schema.$ref), at);
    const errs: string[] = [];
    if (Array.isArray(schema.oneOf)) {
      const ok = (schema.oneOf as Schema[]).filter((s) => this.validate(value, s, at).length === 0).length;
      if (ok !== 1) errs.push(`${at}: matches ${ok} of the oneOf alternatives, not exactly 1`);
    }
    if (schema.type !== undefined) {
      const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
      if (!types.some((t) => typeOk(value, t))) return [...errs, `${at}: ${typeOf(value)}, not ${types.join(' or ')}`];
    }
    if ('const' in schema && value !== schema.const) errs.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`);
    if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errs.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
    if (typeof value === 'number' && typeof schema.minimum === 'number' && value < schema.minimum) errs.push(`${at}: ${value} < ${schema.minimum}`);
    if (typeof value === 'string') {
      if (typeof schema.minLength === 'number' && value.length < schema.minLength) errs.push(`${at}: shorter than ${schema.minLength}`);
      if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) errs.push(`${at}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    }
    if (typeOf(value) === 'object') {
      const obj = value as Record<string, unknown>;
      for (const k of (schema.required as string[] | undefined) ?? []) if (!(k in obj)) errs.push(`${at}: ${k} is missing`);
      const props = (schema.properties as Record<string, Schema> | undefined) ?? {};
      for (const [k, s] of Object.entries(props)) if (k in obj) errs.push(...this.validate(obj[k], s, `${at}.${k}`));
    }
    if (Array.isArray(value) && schema.items) value.forEach((v, i) => errs.push(...this.validate(v, schema.items as Schema, `${at}[${i}]`)));
    return errs;
  }
}
