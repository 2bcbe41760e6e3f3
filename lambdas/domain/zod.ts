/**
 * zod for the whole product: zod/mini, whose functions esbuild can leave out of a bundle one by one
 * (the full zod API hangs every feature on each schema's methods, about 90 KiB in every function),
 * with the English messages that full zod sets by itself. Import it as `import * as z from './zod.ts'`.
 */
import { config } from 'zod/mini';
import { en } from 'zod/locales';

config(en());

export * from 'zod/mini';
