// Containment of file paths named by data (a weightsManifest, a PEFT directory): the file must
// lie inside its folder once symlinks are resolved, whatever `..`, absolute paths or links say.

type Fs = typeof import('node:fs/promises');
type Path = typeof import('node:path');

/** Whether `rel` (from `path.relative(folder, file)`) stays strictly inside the folder. */
export function staysInside(path: Path, rel: string): boolean {
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/**
 * `folder/name`, after checking that it resolves (symlinks included) to a file inside `folder`.
 * Throws `${who}: … leaves the folder …` otherwise. A file that does not exist is checked by its
 * lexical path (reading it then fails with its own error).
 */
export async function containedPath(fs: Fs, path: Path, folder: string, name: string, who: string): Promise<string> {
  const file = path.join(folder, name);
  const realFolder = await fs.realpath(folder);
  const real = await fs.realpath(file).catch(() => path.resolve(realFolder, name));
  if (path.isAbsolute(name) || !staysInside(path, path.relative(realFolder, real))) {
    throw new Error(`${who}: ${JSON.stringify(name)} leaves its folder ${folder} (it resolves to ${real}); ` +
      'refusing to read it. Files named there must lie inside that folder (no "..", absolute paths or symlinks out).');
  }
  return file;
}
