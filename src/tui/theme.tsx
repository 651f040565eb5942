// Colour for the terminal UI, off when NO_COLOR is set (https://no-color.org). Every coloured
// piece of text goes through <Tint>, so one switch turns every colour off; bold, dim and inverse
// are attributes, not colours, and stay (the selection must stay visible without colour).

import { createContext, useContext, type ReactNode } from 'react';
import { Text } from 'ink';

export type ColourName = 'red' | 'green' | 'yellow' | 'blue' | 'magenta' | 'cyan' | 'gray' | 'white';

export const ColourContext = createContext<boolean>(true);

export function useColour(): boolean {
  return useContext(ColourContext);
}

/** Whether colour is wanted: NO_COLOR (non-empty) turns it off. */
export function colourFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');
}

export interface TintProps {
  color?: ColourName;
  backgroundColor?: ColourName;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
  underline?: boolean;
  wrap?: 'wrap' | 'truncate-end' | 'truncate' | 'truncate-start' | 'truncate-middle' | 'end' | 'middle';
  children?: ReactNode;
}

export function Tint({ color, backgroundColor, bold, dim, inverse, underline, wrap, children }: TintProps) {
  const on = useColour();
  return (
    <Text
      color={on ? color : undefined}
      backgroundColor={on ? backgroundColor : undefined}
      bold={bold}
      dimColor={dim}
      inverse={inverse}
      underline={underline}
      wrap={wrap}
    >
      {children}
    </Text>
  );
}
