// The one type the generated spec types (types/) share; its own module, so that they import nothing else.
declare const mistyped: unique symbol;

/**
 * A value of another type than its schema says (a number where a list belongs, a string for a mapping):
 * validate reads invalid input. Nothing can be done with it until a test (typeof, Array.isArray, or the
 * helpers of spec.ts) has ruled it out.
 */
export interface Mistyped {
  readonly [mistyped]: true;
}
