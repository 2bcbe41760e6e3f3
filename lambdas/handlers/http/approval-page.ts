import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { stepFunctionsWorkflow } from '../../adapters/sfn-workflow.ts';
import type { LinkDecision, LinkState } from '../../domain/approval-links.ts';
import { DecisionNotYetDelivered, TransientError } from '../../domain/errors.ts';
import type { ConsentRecord, TransferSummary } from '../../domain/transfer.ts';
import {
  PAGE_CONTENT_SECURITY_POLICY,
  approvalPage,
  decisionRecordedPage,
  linkProblemPage,
  linkProblemStatus,
  type LinkProblem,
} from '../../presentation/pages.ts';
import { getServices, type Adapters } from '../../composition.ts';
import { logger } from '../logger.ts';
import { publishMetrics } from '../metrics.ts';
import { rawBody, requestMeta, type ApiEvent, type ApiResult } from './api.ts';

/** A decision made through a link answers the waiting workflow. */
const ADAPTERS: Adapters = { workflow: stepFunctionsWorkflow };

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  // The secret is in the URL: never hand it to another site, never let the page be indexed or framed.
  'referrer-policy': 'no-referrer',
  'x-robots-tag': 'noindex, nofollow',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'content-security-policy': PAGE_CONTENT_SECURITY_POLICY,
};

function page(statusCode: number, body: string): ApiResult {
  return { statusCode, headers: PAGE_HEADERS, body };
}

function problemPage(timeZone: string, problem: LinkProblem, transfer: TransferSummary | undefined, consent?: ConsentRecord): ApiResult {
  return page(linkProblemStatus(problem), linkProblemPage(problem, transfer ? { timeZone, transfer, ...(consent ? { consent } : {}) } : undefined));
}

function formFields(event: ApiEvent): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(rawBody(event)));
}

/** Pages show times and a date's start in `timeZone`, the deployment's TRANSFER_TIMEZONE. */
function openedPage(state: LinkState, timeZone: string): ApiResult {
  if (state.kind === 'problem') return problemPage(timeZone, state.problem, state.transfer, state.consent);
  return page(200, approvalPage({ ...state.view, timeZone }));
}

function decidedPage(outcome: LinkDecision, timeZone: string): ApiResult {
  switch (outcome.kind) {
    case 'problem':
      return problemPage(timeZone, outcome.problem, outcome.transfer, outcome.consent);
    case 'invalid':
      return page(
        400,
        approvalPage({
          ...outcome.view,
          timeZone,
          errors: outcome.errors,
          values: {
            ...outcome.values,
            immediate: Boolean(outcome.values.immediate),
            acknowledge: Boolean(outcome.values.acknowledge),
          },
        }),
      );
    case 'recorded':
      return page(
        200,
        decisionRecordedPage({
          transfer: outcome.result.transfer,
          step: outcome.step,
          consent: outcome.result.consent,
          at: outcome.result.at,
          repeated: outcome.result.repeated,
          timeZone,
        }),
      );
  }
}

/**
 * GET and HEAD show the page and change nothing (mail scanners open links); only the form's POST decides.
 * The secret never reaches a log line.
 */
export const handler = middy<ApiEvent, ApiResult, Error, Context>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(publishMetrics())
  .handler(async (event) => {
    const secret = event.pathParameters?.secret ?? '';
    const { links, config } = getServices(ADAPTERS);
    const timeZone = config.TRANSFER_TIMEZONE;
    try {
      if (event.requestContext.http.method !== 'POST') return openedPage(await links.open(secret), timeZone);
      const outcome = await links.decide(secret, formFields(event), requestMeta(event));
      if (outcome.kind === 'recorded') {
        logger.appendKeys({ transferId: outcome.result.transfer.id });
        logger.info('Decision recorded through a link', { step: outcome.step, decision: outcome.result.consent.decision, repeated: outcome.result.repeated });
      }
      return decidedPage(outcome, timeZone);
    } catch (error) {
      if (error instanceof DecisionNotYetDelivered) return page(503, linkProblemPage('submit-again'));
      if (error instanceof TransientError) return page(503, linkProblemPage('try-again'));
      logger.error('Approval page failed', { errorName: error instanceof Error ? error.name : typeof error });
      return page(500, linkProblemPage('try-again'));
    }
  });
