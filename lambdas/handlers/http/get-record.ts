import { RECORD_CONTENT_SECURITY_POLICY, recordPage } from '../../presentation/record-page.ts';
import { recordPdf } from '../../presentation/record-pdf.ts';
import { logger } from '../logger.ts';
import { apiHandler, callerOf, pathParameter } from './api.ts';

/** The consent record of a transfer: printable HTML, or PDF when the caller accepts it. */
export const handler = apiHandler({}, async (event, services) => {
  const id = pathParameter(event, 'id');
  logger.appendKeys({ transferId: id });
  const record = await services.transfers.record(callerOf(event, services), id);
  if (record.chain.state === 'broken') logger.error('A transfer history failed its chain check', { problem: record.chain.problem, seq: record.chain.at.seq });
  const headers = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'x-record-fingerprint': record.fingerprint };
  if (wantsPdf(event.headers.accept)) {
    const pdf = await recordPdf(record);
    return {
      statusCode: 200,
      headers: { ...headers, 'content-type': 'application/pdf', 'content-disposition': `inline; filename="consent-record-${id}.pdf"` },
      body: Buffer.from(pdf).toString('base64'),
      isBase64Encoded: true,
    };
  }
  return {
    statusCode: 200,
    headers: { ...headers, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': RECORD_CONTENT_SECURITY_POLICY },
    body: recordPage(record),
  };
});

/** PDF when the Accept header prefers it to HTML (a browser's plain Accept gets the page). */
function wantsPdf(accept: string | undefined): boolean {
  if (!accept) return false;
  const weights = new Map(
    accept.split(',').map((part) => {
      const [type = '', ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return [type.trim(), q ? Number(q.slice(2)) : 1] as const;
    }),
  );
  const pdf = weights.get('application/pdf') ?? 0;
  const html = Math.max(weights.get('text/html') ?? 0, weights.get('*/*') ?? 0, weights.get('text/*') ?? 0);
  return pdf > html;
}
