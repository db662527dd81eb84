/**
 * Text that came from outside (DID names, log lines, server messages) printed on a terminal: a
 * control character in it is escaped, so a name cannot clear the screen, retitle the window, move
 * the cursor or fake a line of output. C0 and C1 controls, DEL and the Unicode bidirectional
 * controls (which reorder what is shown, "Trojan Source") become `\x1b`, `\u202e`, ... The HTML
 * report escapes for HTML separately.
 */

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const unsafeInLine = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const unsafeInName = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function escapeCharacter(ch: string): string {
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Lines of text for the terminal: line breaks and tabs stay, every other control character is escaped. */
export function terminalText(text: string): string {
  return text.replace(unsafeInLine, escapeCharacter);
}

/** One untrusted value (a name, a reason) inside a line: line breaks and tabs are escaped too. */
export function terminalValue(text: string): string {
  return text.replace(unsafeInName, escapeCharacter);
}
