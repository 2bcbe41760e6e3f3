// CORS of the HTTP API, shared by the CDK API (lib/constructs/api.ts) and the local HTTP API
// (local/http-api/server.ts), so that a browser meets the same answers in both. No CDK import here.
import { HTTP_ROUTES } from '../lambdas/handlers/catalog.ts';

type HttpMethod = (typeof HTTP_ROUTES)[number]['method'];

/** What a portal page on an allowed origin may send and read (API Gateway's CorsConfiguration, less the origins). */
export interface PortalCors {
  /** Request headers a page may send: the bearer token, JSON bodies and `Idempotency-Key`. */
  readonly allowHeaders: readonly string[];
  /** The methods the routes use. */
  readonly allowMethods: readonly HttpMethod[];
  /** Response headers a page may read: `Location` of a filed request. */
  readonly exposeHeaders: readonly string[];
  /** How long a browser may keep a preflight answer. */
  readonly maxAgeSeconds: number;
}

export const PORTAL_CORS: PortalCors = {
  allowHeaders: ['authorization', 'content-type', 'idempotency-key'],
  allowMethods: [...new Set(HTTP_ROUTES.map((route) => route.method))],
  exposeHeaders: ['location'],
  maxAgeSeconds: 3600,
};

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1']);

/**
 * The portal origins from a setting: a list, or a comma-separated string (`-c portalOrigins=a,b`,
 * `PORTAL_ORIGINS=a,b`); none or empty means no CORS. Each must be an https origin as a browser
 * sends it (`https://portal.example.com`, no path, no trailing slash); http only for localhost
 * and 127.0.0.1. `name` names the setting in the error.
 */
export function parsePortalOrigins(value: unknown, name: string): string[] {
  if (value === undefined || value === null) return [];
  const items = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : undefined;
  if (items === undefined) throw new Error(`${name} must be a list of origins or a comma-separated string, got ${JSON.stringify(value)}.`);
  const origins = items.map((item) => {
    if (typeof item !== 'string') throw new Error(`${name} must list origins as strings, got ${JSON.stringify(item)}.`);
    return item.trim();
  });
  for (const origin of origins.filter((item) => item !== '')) {
    const url = URL.canParse(origin) ? new URL(origin) : undefined;
    const secure = url?.protocol === 'https:' || (url?.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
    if (url === undefined || !secure || url.origin !== origin) {
      throw new Error(
        `${name}: "${origin}" is not an origin such as https://portal.example.com (https, lower case, no path or trailing slash; http only for localhost and 127.0.0.1).`,
      );
    }
  }
  return [...new Set(origins.filter((origin) => origin !== ''))];
}
