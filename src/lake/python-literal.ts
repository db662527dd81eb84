/** Far deeper than any filter a client sends (a list of flat dicts is 2). */
export const maxLiteralDepth = 32;

/**
 * The Python client sends `list_dids` filters as `repr()` of a list of dicts, which the server reads
 * with `ast.literal_eval` (e.g. `[{'name': 'ds1'}]`). This turns such a literal of strings, numbers,
 * booleans, None, lists and dicts into JSON text, then parses it. Anything else is rejected.
 */
export function parsePythonLiteral(text: string, maxDepth = maxLiteralDepth): unknown {
  let out = '';
  let i = 0;
  let depth = 0;
  while (i < text.length) {
    const ch = text[i] ?? '';
    if (ch === "'" || ch === '"') {
      const quote = ch;
      let value = '';
      i++;
      while (i < text.length && text[i] !== quote) {
        if (text[i] === '\\') {
          const next = text[i + 1] ?? '';
          const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' };
          value += escapes[next] ?? `\\${next}`;
          i += 2;
        } else {
          value += text[i] ?? '';
          i++;
        }
      }
      if (i >= text.length) throw new SyntaxError('unterminated string');
      i++;
      out += JSON.stringify(value);
      continue;
    }
    const word = /^[A-Za-z_]+/.exec(text.slice(i))?.[0];
    if (word !== undefined) {
      const words: Record<string, string> = { True: 'true', False: 'false', None: 'null' };
      const mapped = words[word];
      if (mapped === undefined) throw new SyntaxError(`unsupported name ${word}`);
      out += mapped;
      i += word.length;
      continue;
    }
    if (ch === '[' || ch === '{' || ch === '(') {
      // Nested values are walked recursively later: bounded here, before anything recurses.
      if (++depth > maxDepth) throw new SyntaxError(`nested deeper than ${maxDepth} levels`);
    } else if (ch === ']' || ch === '}' || ch === ')') depth--;
    if ('[]{}:,-+.0123456789 \t\n'.includes(ch)) {
      out += ch;
      i++;
      continue;
    }
    if (ch === '(' || ch === ')') {
      out += ch === '(' ? '[' : ']';
      i++;
      continue;
    }
    throw new SyntaxError(`unexpected character ${ch}`);
  }
  // A trailing comma is legal in Python, not in JSON.
  return JSON.parse(out.replace(/,\s*([\]}])/g, '$1')) as unknown;
}
