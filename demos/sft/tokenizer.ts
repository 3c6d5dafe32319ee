// The character vocabulary of the SFT demo's language model: printable ASCII, newline and a
// padding token. Every Brown character and every SFT prompt fits in it.

/** Token id of padding (never a target: the loss masks it out). */
export const PAD_ID = 0;
const NEWLINE_ID = 1;
const FIRST_PRINTABLE = 32;
const LAST_PRINTABLE = 126;

/** Number of token ids: padding, newline, and the 95 printable ASCII characters. */
export const VOCAB_SIZE = 2 + LAST_PRINTABLE - FIRST_PRINTABLE + 1;

/** Token ids of `text`; throws on a character outside the vocabulary, naming it. */
export function encode(text: string): number[] {
  const ids = new Array<number>(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) ids[i] = NEWLINE_ID;
    else if (c >= FIRST_PRINTABLE && c <= LAST_PRINTABLE) ids[i] = 2 + c - FIRST_PRINTABLE;
    else throw new Error(`encode: character ${JSON.stringify(text[i])} (code ${c}) at ${i} is not in the vocabulary`);
  }
  return ids;
}

/** The text of token ids (padding decodes to nothing). */
export function decode(ids: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id === PAD_ID) continue;
    s += id === NEWLINE_ID ? '\n' : String.fromCharCode(id - 2 + FIRST_PRINTABLE);
  }
  return s;
}
