// The `?` overlay: every key of the screen on show, and the keys that work everywhere.

import { Box, Text } from 'ink';
import { Frame } from '../components.js';
import { GLOBAL_KEYS, SCREEN_KEYS, type KeyHelp, type ScreenName } from '../keys.js';
import { useTerminalSize } from '../terminal.js';
import { cell } from '../text.js';
import { Tint } from '../theme.js';

const TITLE: Record<ScreenName, string> = { layers: 'Layers', sources: 'Sources', run: 'Run', results: 'Results', file: 'File' };

function Section({ title, keys, keyW }: { title: string; keys: KeyHelp[]; keyW: number }) {
  return (
    <Box flexDirection="column">
      <Tint bold color="cyan">
        {title}
      </Tint>
      {keys.map((k) => (
        <Text key={k.keys} wrap="truncate-end">
          {'  '}
          <Tint bold>{cell(k.keys, keyW)}</Tint>
          {'  '}
          {k.what}
        </Text>
      ))}
    </Box>
  );
}

export function HelpOverlay({ screen }: { screen: ScreenName }) {
  const { columns } = useTerminalSize();
  const keyW = columns >= 100 ? 22 : 16;
  return (
    <Frame title={`layer-forensics · Help · ${TITLE[screen]}`} hints="any key closes this help">
      <Section title={`On the ${TITLE[screen]} screen`} keys={SCREEN_KEYS[screen]} keyW={keyW} />
      <Text> </Text>
      <Section title="Everywhere" keys={GLOBAL_KEYS} keyW={keyW} />
      <Text> </Text>
      <Tint dim>Screens: Layers → Sources → Run → Results → File. Bytes from the layer are shown escaped (\e, \xNN).</Tint>
    </Frame>
  );
}
