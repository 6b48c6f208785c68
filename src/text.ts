/**
 * Characters that JSON.stringify leaves raw but a terminal may act on or that reorder text: DEL, C1
 * controls, the Unicode line and paragraph separators (they end a JavaScript line too) and the
 * bidirectional marks and overrides. (JSON.stringify escapes C0 controls itself.)
 */
const UNSAFE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u061c\u200e\u200f]/g;

function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Any string from outside (a file name, a manifest field) as it may be printed: JSON-quoted, with
 * every control character escaped, so it can neither move the cursor nor retitle a terminal.
 * @example quote('a\u001b]0;x\u0007.jpg') === '"a\\u001b]0;x\\u0007.jpg"'
 */
export function quote(text: string): string {
  return escapeUnsafe(JSON.stringify(text));
}

/**
 * `JSON.stringify(value)` with the characters JSON leaves raw but a terminal or a `<script>`
 * element may act on (C1 controls, DEL, U+2028/2029, bidirectional overrides, `<`) escaped: the
 * same JSON to a parser.
 */
export function safeJson(value: unknown, space?: number): string {
  return escapeUnsafe(JSON.stringify(value, null, space)).replaceAll('<', '\\u003c');
}

/** Every character a terminal may act on: C0 and C1 controls, DEL, U+2028/2029 and the bidirectional marks and overrides. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u061c\u200e\u200f]/g;

/**
 * A message as it may be written to a terminal, whatever it quotes: every control character
 * escaped as `\uXXXX`. The CLI passes every line it prints on stderr through it.
 */
export function terminalSafe(text: string): string {
  return text.replace(CONTROL, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
