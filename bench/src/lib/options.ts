/**
 * A bench's options: `--name value` (or `--name=value`) on the command line, else an environment
 * variable, else a default. A value that does not fit is an error naming the option and the variable.
 */

export interface OptionSource {
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

/** The raw text of an option: the command line first, then the environment; undefined when unset or empty. */
export function optionText(name: string, env: string | undefined, src: OptionSource = {}): string | undefined {
  const argv = src.argv ?? process.argv;
  let v: string | undefined;
  for (let i = 0; i < argv.length && v === undefined; i++) {
    const a = argv[i]!;
    if (a === `--${name}`) v = argv[i + 1] ?? "";
    else if (a.startsWith(`--${name}=`)) v = a.slice(name.length + 3);
  }
  if (v === undefined && env) v = (src.env ?? process.env)[env];
  return v === undefined || v === "" ? undefined : v;
}

function numberOption(name: string, env: string | undefined, fallback: number, what: string, fits: (n: number) => boolean, src: OptionSource): number {
  const v = optionText(name, env, src);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!fits(n)) throw new Error(`--${name}${env ? ` (or ${env})` : ""} must be ${what}, got "${v}"`);
  return n;
}

/** A finite number > 0 (minutes, seconds, seeds). */
export function positiveNumber(name: string, env: string | undefined, fallback: number, src: OptionSource = {}): number {
  return numberOption(name, env, fallback, "a positive number", (n) => Number.isFinite(n) && n > 0, src);
}

/** A whole number ≥ min (default 1): counts of events, rounds, iterations. */
export function integerOption(name: string, env: string | undefined, fallback: number, min = 1, src: OptionSource = {}): number {
  return numberOption(name, env, fallback, `an integer ≥ ${min}`, (n) => Number.isInteger(n) && n >= min, src);
}

/** One of a fixed set of words. */
export function choiceOption<T extends string>(name: string, env: string | undefined, choices: readonly T[], fallback: T, src: OptionSource = {}): T {
  const v = optionText(name, env, src);
  if (v === undefined) return fallback;
  if (!(choices as readonly string[]).includes(v)) throw new Error(`--${name}${env ? ` (or ${env})` : ""} must be ${choices.join(" or ")}, got "${v}"`);
  return v as T;
}

/**
 * `--help` / `-h`: prints the bench's usage and exits 0 before anything runs (a bench started by
 * mistake would otherwise run for minutes and overwrite its committed report).
 */
export function exitWithUsageIfAsked(usage: string, argv: readonly string[] = process.argv): void {
  if (!argv.includes("--help") && !argv.includes("-h")) return;
  process.stdout.write(`${usage.trim()}\n`);
  process.exit(0);
}
