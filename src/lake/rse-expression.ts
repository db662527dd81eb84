import { rucioErrors } from './rucio-error.js';

/**
 * Rucio RSE expressions, the subset wavefier needs: a bare term (an attribute key whose value is
 * true; every RSE has the attribute `<RSE>: true`, so a bare RSE name selects that RSE), `*` (all),
 * `key=value`, and the set operators `|` (union), `&` (intersection), `\` (difference), with
 * parentheses. Like Rucio, an expression that resolves to nothing is an error.
 */
export interface RseForExpression {
  name: string;
  attributes: Readonly<Record<string, string | boolean | number>>;
}

type Token = { kind: 'term'; text: string } | { kind: 'op'; op: '|' | '&' | '\\' } | { kind: 'open' } | { kind: 'close' };

const termPattern = /^[A-Za-z0-9_\-.*]+(=[A-Za-z0-9_\-.]+)?$/;

function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  let current = '';
  const flush = (): void => {
    if (current !== '') {
      if (!termPattern.test(current)) throw rucioErrors.invalidRseExpression(expression);
      tokens.push({ kind: 'term', text: current });
      current = '';
    }
  };
  for (const ch of expression) {
    if (ch === '|' || ch === '&' || ch === '\\') {
      flush();
      tokens.push({ kind: 'op', op: ch });
    } else if (ch === '(') {
      flush();
      tokens.push({ kind: 'open' });
    } else if (ch === ')') {
      flush();
      tokens.push({ kind: 'close' });
    } else if (ch === ' ') {
      flush();
    } else {
      current += ch;
    }
  }
  flush();
  return tokens;
}

function matchesTerm(rse: RseForExpression, term: string): boolean {
  if (term === '*') return true;
  const eq = term.indexOf('=');
  if (eq < 0) {
    const value = rse.attributes[term];
    return value === true || value === 'true' || value === 'True' || value === 1;
  }
  const key = term.slice(0, eq);
  const expected = term.slice(eq + 1);
  const value = rse.attributes[key];
  if (value === undefined) return false;
  return String(value).toLowerCase() === expected.toLowerCase();
}

/** Resolves `expression` against `rses`; throws InvalidRSEExpression for bad syntax or an empty result. */
export function resolveRseExpression<T extends RseForExpression>(expression: string, rses: readonly T[]): T[] {
  const tokens = tokenize(expression);
  let position = 0;
  const fail = (): never => {
    throw rucioErrors.invalidRseExpression(expression);
  };
  const primary = (): Set<T> => {
    const token = tokens[position++];
    if (token === undefined) return fail();
    if (token.kind === 'open') {
      const inner = sequence();
      if (tokens[position++]?.kind !== 'close') fail();
      return inner;
    }
    if (token.kind !== 'term') return fail();
    return new Set(rses.filter((rse) => matchesTerm(rse, token.text)));
  };
  // Rucio gives the operators equal precedence, evaluated left to right.
  const sequence = (): Set<T> => {
    let result = primary();
    for (let token = tokens[position]; token?.kind === 'op'; token = tokens[position]) {
      position++;
      const right = primary();
      if (token.op === '|') result = new Set([...result, ...right]);
      else if (token.op === '&') result = new Set([...result].filter((rse) => right.has(rse)));
      else result = new Set([...result].filter((rse) => !right.has(rse)));
    }
    return result;
  };
  if (tokens.length === 0) fail();
  const result = sequence();
  if (position !== tokens.length) fail();
  if (result.size === 0) throw rucioErrors.emptyRseExpression();
  return rses.filter((rse) => result.has(rse));
}
