// Parsers for numeric command-line options, shared by every command: a bad value is refused by
// commander with the option's name and this message.
import { InvalidArgumentError } from "commander";

/** An integer >= min. */
export function intAtLeast(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}, got '${value}'`);
    }
    return n;
  };
}

export const positiveInt = intAtLeast(1);
export const nonNegativeInt = intAtLeast(0);

/** A finite number > 0 (or >= 0 when zero is allowed). */
function number(allowZero: boolean): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
      throw new InvalidArgumentError(`expected a ${allowZero ? "non-negative" : "positive"} number, got '${value}'`);
    }
    return n;
  };
}

export const positiveNumber = number(false);
export const nonNegativeNumber = number(true);

/** A number in [0, 1]. */
export function probability(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new InvalidArgumentError(`expected a number in [0, 1], got '${value}'`);
  }
  return n;
}

/** A comma-separated list of lower-case head names; `none` is the empty list. */
export function headList(value: string): string[] {
  if (value.trim() === "none") return [];
  const names = value.split(",").map((s) => s.trim());
  const bad = names.find((n) => !/^[a-z][a-z0-9_]*$/.test(n));
  if (bad !== undefined) throw new InvalidArgumentError(`expected head names like thing,color or none, got '${value}'`);
  return names;
}
