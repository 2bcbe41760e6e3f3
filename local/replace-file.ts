import { randomUUID } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';

/**
 * Writes `content` to a temporary file beside `file` and renames it over `file`, so a reader sees
 * the old content or the new, never half of it. The temporary name is unique to this call: test
 * workers are threads of one process, so a name made of the process id alone can be taken by two
 * writers at once (one renames it away before the other does).
 */
export async function replaceFile(file: string, content: string, mode?: number): Promise<void> {
  const temporary = `${file}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporary, content, mode === undefined ? 'utf8' : { encoding: 'utf8', mode });
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
