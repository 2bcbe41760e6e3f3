import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { openApiDocument } from '../../contract/openapi.ts';

/** The document as sent: made on the first request of an execution environment, then kept. */
let body: string | undefined;

/** GET /openapi.json: the portal's contract, for anyone (no token), cacheable for five minutes. */
export const handler = async (): Promise<APIGatewayProxyStructuredResultV2> => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'public, max-age=300' },
  body: (body ??= JSON.stringify(openApiDocument())),
});
