// Writes the API's OpenAPI document: `npm run openapi [-- OUT_FILE] [--server URL]` (default build/openapi.json).
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openApiDocument } from '../lambdas/contract/openapi.ts';

const USAGE = 'usage: npm run openapi [-- OUT_FILE] [--server URL]   (default build/openapi.json; URL: the API base, e.g. https://api.example.com)';

function commandLine(argv: string[]): { out: string; server?: string } {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { server: { type: 'string' } } });
  if (positionals.length > 1) throw new Error('Give at most one output file.');
  if (values.server !== undefined && !URL.canParse(values.server)) throw new Error(`--server is not a URL: ${values.server}`);
  return { out: positionals[0] ?? 'build/openapi.json', ...(values.server !== undefined ? { server: values.server } : {}) };
}

async function main(): Promise<void> {
  let options;
  try {
    options = commandLine(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const document = openApiDocument();
  // The document's server is relative (the API that serves it); a file handed to a portal team may name the API.
  const written = options.server ? { ...document, servers: [{ url: options.server }] } : document;
  const file = resolve(options.out);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(written, null, 2)}\n`);
  process.stdout.write(`Wrote the OpenAPI ${document.openapi} document (${Object.keys(document.paths).length} paths) to ${relative(process.cwd(), file) || file}\n`);
}

await main();
