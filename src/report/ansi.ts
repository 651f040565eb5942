// Minimal ANSI colouring, off when NO_COLOR is set or the output is not a terminal.

const CODES = {
  red: 31,
  green: 32,
  yellow: 33,
  blue: 34,
  magenta: 35,
  cyan: 36,
  gray: 90,
  bold: 1,
  dim: 2,
} as const;

export type Colour = keyof typeof CODES;

export type Paint = (colour: Colour, s: string) => string;

/** https://no-color.org: any non-empty NO_COLOR turns colour off. */
export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}

export function painter(enabled: boolean): Paint {
  return enabled ? (c, s) => `\x1b[${CODES[c]}m${s}\x1b[0m` : (_c, s) => s;
}
