/**
 * A reader for the Python `configparser` dialect that rucio.cfg is written in: `[section]`
 * headers, `key = value` or `key: value`, whole-line `#`/`;` comments, indented continuation lines.
 * Keys are case-insensitive (configparser lowercases them); values are kept verbatim, trimmed.
 */
export type IniSections = Map<string, Map<string, { value: string; line: number }>>;

export function parseIni(text: string): IniSections {
  const sections: IniSections = new Map();
  let current: Map<string, { value: string; line: number }> | undefined;
  let lastKey: string | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (/^\s*([#;]|$)/.test(raw)) return;
    const section = /^\s*\[([^\]]+)\]\s*$/.exec(raw);
    if (section) {
      const name = (section[1] ?? '').trim();
      current = sections.get(name) ?? new Map<string, { value: string; line: number }>();
      sections.set(name, current);
      lastKey = undefined;
      return;
    }
    if (/^\s/.test(raw) && current !== undefined && lastKey !== undefined) {
      const previous = current.get(lastKey);
      if (previous) previous.value = `${previous.value}\n${raw.trim()}`.trim();
      return;
    }
    const pair = /^\s*([^=:\s][^=:]*?)\s*[=:]\s*(.*?)\s*$/.exec(raw);
    if (!pair || current === undefined) {
      throw new SyntaxError(`line ${line}: expected '[section]' or 'key = value', found '${raw.trim().slice(0, 60)}'`);
    }
    lastKey = (pair[1] ?? '').toLowerCase();
    current.set(lastKey, { value: pair[2] ?? '', line });
  });
  return sections;
}
