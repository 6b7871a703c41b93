/**
 * A small JSON Schema (draft-07) builder whose schemas carry the TypeScript type they describe.
 * `obj<T>()({...})` must name every key of T, each wrapped in opt() exactly when T's key is
 * optional, with a schema of a type assignable to the key's type: the result schemas are
 * checked against the harness's result interfaces at compile time, so adding, removing or
 * retyping a field without updating its schema fails the build.
 */

declare const phantom: unique symbol;

/**
 * A JSON Schema for values of type T (T exists only for the type checker: the key is a symbol
 * that no value has, so only this module's builders make a Schema). T is invariant: a schema
 * for `number` does not pass for `number | null`, nor a schema for "x" for "x" | "y".
 */
export interface Schema<T> {
  readonly [key: string]: unknown;
  readonly [phantom]: (t: T) => T;
}

/** Any schema, whatever its type. */
export type AnySchema = Readonly<Record<string, unknown>>;

/** An optional property's schema. */
export interface Opt<T> {
  readonly optional: Schema<T>;
}

/**
 * A key the interface requires that result files written before it existed lack: optional in
 * the schema (a reader of old files must not count on it), required when writing.
 */
export interface Older<T> {
  readonly older: Schema<T>;
}

type OptionalKeys<T> = {
  [K in keyof T]-?: object extends Pick<T, K> ? K : never;
}[keyof T];

/**
 * A schema for every key of T: opt() for optional keys; for required ones a bare schema, or
 * older() for a key older files lack.
 */
export type Props<T> = {
  [K in keyof T]-?: K extends OptionalKeys<T>
    ? Opt<Exclude<T[K], undefined>>
    : Schema<T[K]> | Older<T[K]>;
};

const schema = <T>(s: Record<string, unknown>): Schema<T> => s as unknown as Schema<T>;

export const opt = <T>(s: Schema<T>): Opt<T> => ({ optional: s });

export const older = <T>(s: Schema<T>): Older<T> => ({ older: s });

/** Any value (a key whose shape this schema leaves open). */
export const any = <T = unknown>(description?: string): Schema<T> =>
  schema(description === undefined ? {} : { description });

export const str = (extra: { pattern?: RegExp; minLength?: number } = {}): Schema<string> => {
  const s: Record<string, unknown> = { type: "string" };
  if (extra.minLength !== undefined) s.minLength = extra.minLength;
  if (extra.pattern !== undefined) s.pattern = source(extra.pattern);
  return schema(s);
};

/** A regular expression's source for a JSON Schema "pattern": no flags can be carried. */
export function source(re: RegExp): string {
  if (re.flags.replace("u", "") !== "") throw new Error(`pattern ${String(re)}: flags not allowed`);
  return re.source;
}

/** ISO 8601 in UTC as Date.toISOString() writes it. */
export const isoDate = (): Schema<string> =>
  schema({ type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$" });

export const int = (min?: number, max?: number): Schema<number> => {
  const s: Record<string, unknown> = { type: "integer" };
  if (min !== undefined) s.minimum = min;
  if (max !== undefined) s.maximum = max;
  return schema(s);
};

export const num = (min?: number, max?: number): Schema<number> => {
  const s: Record<string, unknown> = { type: "number" };
  if (min !== undefined) s.minimum = min;
  if (max !== undefined) s.maximum = max;
  return schema(s);
};

export const bool = (): Schema<boolean> => schema({ type: "boolean" });

export const lit = <const T extends string | number | boolean>(value: T): Schema<T> =>
  schema({ const: value });

/** One of these strings: enumOf<string>(list) for a field typed string. */
export const enumOf = <const T extends string>(values: readonly T[]): Schema<T> =>
  schema({ type: "string", enum: [...values] });

/**
 * One of these strings, which must be every member of T: `enumAll<Mode>()(["widened",
 * "natural"])` fails to compile when Mode gains a member the list lacks.
 */
export const enumAll =
  <T extends string>() =>
  <const V extends readonly T[]>(
    values: V & ([T] extends [V[number]] ? unknown : "some member of T is missing"),
  ): Schema<T> =>
    schema({ type: "string", enum: [...values] });

export const nullable = <T>(s: Schema<T>): Schema<T | null> =>
  schema({ anyOf: [s, { type: "null" }] });

/** Any of these schemas; T (given) is what they allow together: the types cannot check it. */
export const anyOf = <T>(...alternatives: AnySchema[]): Schema<T> =>
  schema({ anyOf: alternatives });

export const arr = <T>(
  items: Schema<T>,
  extra: { minItems?: number; maxItems?: number; uniqueItems?: boolean } = {},
): Schema<T[]> => schema({ type: "array", items, ...extra });

export const tuple = <const T extends readonly unknown[]>(
  ...items: { [I in keyof T]: Schema<T[I]> }
): Schema<{ -readonly [I in keyof T]: T[I] }> =>
  schema({
    type: "array",
    items: [...(items as readonly Schema<unknown>[])],
    minItems: items.length,
    maxItems: items.length,
    additionalItems: false,
  });

/** An object used as a map: any keys (or those `keys` allows), every value of one schema. */
export const map = <T>(
  values: Schema<T>,
  keys?: Schema<string> | Readonly<Record<string, unknown>>,
): Schema<Record<string, T>> => {
  const s: Record<string, unknown> = { type: "object", additionalProperties: values };
  if (keys !== undefined) s.propertyNames = keys;
  return schema(s);
};

/** Attach a description (shown by editors on hover). */
export const describe = <T>(description: string, s: Schema<T>): Schema<T> =>
  schema({ description, ...s });

/**
 * An object with exactly T's keys (no others). `extra` adds keys T does not have (a field
 * another part of the program adds to results), required unless wrapped in opt().
 */
export const obj =
  <T>() =>
  (
    props: Props<T>,
    extra: Record<string, AnySchema | { readonly optional: AnySchema }> = {},
  ): Schema<T> => {
    const properties: Record<string, unknown> = {};
    const required: string[] = [];
    const all = { ...(props as Record<string, AnySchema>), ...extra };
    for (const [k, p] of Object.entries(all)) {
      if (isOpt(p)) properties[k] = p.optional;
      else if (isOlder(p)) properties[k] = p.older;
      else {
        properties[k] = p;
        required.push(k);
      }
    }
    return schema({ type: "object", required, properties, additionalProperties: false });
  };

function isOpt(p: AnySchema): p is { optional: AnySchema } {
  return Object.keys(p).length === 1 && Object.hasOwn(p, "optional");
}

function isOlder(p: AnySchema): p is { older: AnySchema } {
  return Object.keys(p).length === 1 && Object.hasOwn(p, "older");
}
