/**
 * Stack traces of a function bundle point at the TypeScript source, as `--enable-source-maps` makes
 * them, but the source map is read when a stack trace is first formatted instead of at every cold
 * start: Node's flag reads and parses the whole map (0.6 to 0.8 MB) while the bundle loads, which
 * cost a cold start about 30 ms on a 2-core machine, and more on a small Lambda. esbuild injects this module
 * into every bundle (lib/bundling.ts); under `--enable-source-maps` it does nothing.
 */
import type { SourceMap } from 'node:module';

/** The bundle itself: esbuild keeps `import.meta.url` as the URL of the file it writes. */
const BUNDLE_URL = import.meta.url;

let map: SourceMap | null | undefined;

/**
 * The bundle's source map, read once; null when it cannot be read (then frames stay as they are).
 * The builtins are looked up here, not imported: an ES module import of a builtin costs the start too.
 */
function sourceMap(): SourceMap | null {
  if (map === undefined) {
    try {
      const { readFileSync } = process.getBuiltinModule('node:fs');
      const { fileURLToPath } = process.getBuiltinModule('node:url');
      const { SourceMap } = process.getBuiltinModule('node:module');
      map = new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(BUNDLE_URL)}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
    } catch {
      map = null;
    }
  }
  return map;
}

/** A frame in the bundle as its source position (`lambdas/domain/…ts:12:5`); any other frame as V8 writes it. */
function frameLine(frame: NodeJS.CallSite): string {
  const line = frame.getLineNumber();
  const column = frame.getColumnNumber();
  if (frame.getFileName() === BUNDLE_URL && line !== null && column !== null) {
    const origin = sourceMap()?.findOrigin(line, column);
    if (origin !== undefined && 'fileName' in origin) {
      // Sources are relative to the bundle's directory; from the repository root they read best.
      const file = origin.fileName.replace(/^(\.\.\/)+/, '');
      const name = frame.getFunctionName();
      const where = `${file}:${origin.lineNumber}:${origin.columnNumber}`;
      return `    at ${frame.isAsync() ? 'async ' : ''}${name ? `${name} (${where})` : where}`;
    }
  }
  return `    at ${frame.toString()}`;
}

function heading(error: Error): string {
  try {
    return Error.prototype.toString.call(error);
  } catch {
    return 'Error';
  }
}

if (!process.sourceMapsEnabled) {
  Error.prepareStackTrace = (error, frames) => [heading(error), ...frames.map(frameLine)].join('\n');
}
