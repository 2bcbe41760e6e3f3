import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replaceFile } from '../../../local/replace-file.ts';

describe('replaceFile', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'replace-file-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lets writers of one process replace the same file at once, leaving one whole content and no temporary file', async () => {
    const file = join(dir, 'cache.json');
    const contents = Array.from({ length: 20 }, (_, i) => JSON.stringify({ writer: i, padding: 'x'.repeat(10_000) }));
    await Promise.all(contents.map((content) => replaceFile(file, content)));
    expect(contents).toContain(await readFile(file, 'utf8'));
    expect(await readdir(dir)).toEqual(['cache.json']);
  });

  it('gives the file the mode asked for', async () => {
    const file = join(dir, 'public.json');
    await replaceFile(file, '{}', 0o644);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
  });

  it('fails when the directory is missing, leaving nothing behind', async () => {
    await expect(replaceFile(join(dir, 'missing', 'file.json'), '{}')).rejects.toThrow(/ENOENT/);
    expect(await readdir(dir)).toEqual([]);
  });
});
