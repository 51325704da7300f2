// What the commands share in reading their arguments: a usage error (exit 2) and integer options.

/** A mistake in the command line: the command prints it and exits 2. */
export class UsageError extends Error {}

/** `--option N`: a whole number in [min, max], or undefined when the option is absent. */
export function integer(text: string | undefined, option: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new UsageError(`--${option} must be an integer from ${min} to ${max}, not '${text}'`);
  }
  return value;
}
