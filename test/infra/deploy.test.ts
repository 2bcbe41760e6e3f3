// What we test is what we deploy: properties of the template that only show on AWS.
import { App } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { HTTP_ROUTES } from '../../lambdas/handlers/catalog.ts';
import { PORTAL_CORS } from '../../lib/cors.ts';
import { resolveIntrinsics } from '../../lib/render-definition.ts';
import { exampleDefaultsInUse, exampleDefaultsRefusal, readTransferSettings } from '../../lib/transfer-stack.ts';
import { asList, PSEUDO_REFS, resourcesOf, synthesize, type Statement, type SynthesizedStack } from './synth.ts';

/** Real values for every setting that has an example default. */
const DEPLOYABLE = {
  senderEmail: 'transfers@provider.example',
  jwtIssuer: 'https://login.provider.example/',
  devopsEmail: 'devops@provider.example',
};
const PORTAL = 'https://portal.provider.example';
const REFUSAL =
  'Set context senderEmail, jwtIssuer and devopsEmail (cdk deploy -c senderEmail=... -c jwtIssuer=... -c devopsEmail=...): ' +
  'the example defaults cannot send mail, verify portal tokens or reach DevOps with alerts';

/** `cdk synth` with no context: the example defaults. */
let defaults: SynthesizedStack;
/** `cdk deploy` with real settings and a portal origin. */
let deployable: SynthesizedStack;

beforeAll(() => {
  defaults = synthesize();
  deployable = synthesize({ ...DEPLOYABLE, portalOrigins: [PORTAL, 'http://localhost:5173'] });
});

function onlyResource(s: SynthesizedStack, type: string): [string, NonNullable<ReturnType<typeof resourcesOf>[string]>] {
  const entries = Object.entries(resourcesOf(s.template, type));
  expect(entries.map(([id]) => id)).toHaveLength(1);
  const [entry] = entries;
  if (entry === undefined) throw new Error(`No ${type}`);
  return entry;
}

describe('the alert topic policy', () => {
  const statements = (s: SynthesizedStack): Statement[] =>
    (onlyResource(s, 'AWS::SNS::TopicPolicy')[1].Properties?.PolicyDocument as { Statement: Statement[] }).Statement;

  it("lets CloudWatch alarms of this account, and only those, publish: enforceSSL's policy alone only denies", () => {
    const [topicId] = onlyResource(defaults, 'AWS::SNS::Topic');
    const allows = statements(defaults).filter((statement) => statement.Effect === 'Allow');
    // The others let SES publish the configuration set's bounces and complaints (mail.test.ts) and the
    // failed-transfers rule publish (events.test.ts).
    expect(allows.map((statement) => statement.Principal)).toEqual([
      { Service: 'cloudwatch.amazonaws.com' },
      { Service: 'ses.amazonaws.com' },
      { Service: 'events.amazonaws.com' },
    ]);
    const [allow] = allows;
    expect(allow).toMatchObject({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Resource: { Ref: topicId } });
    expect(asList(allow?.Action)).toEqual(['sns:Publish']);
    expect(resolveIntrinsics(allow?.Condition, PSEUDO_REFS)).toEqual({
      StringEquals: { 'aws:SourceAccount': '000000000000' },
      ArnLike: { 'aws:SourceArn': 'arn:aws:cloudwatch:us-east-1:000000000000:alarm:*' },
    });
  });

  it('still refuses publishing without TLS', () => {
    expect(statements(defaults)).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });
});

describe('the execution log group', () => {
  it('keeps its vended-logs name but goes with the stack, so that a deploy after `cdk destroy` can make it again', () => {
    defaults.template.hasResource('AWS::Logs::LogGroup', {
      Properties: { LogGroupName: '/aws/vendedlogs/states/TransferTest-transfer-workflow', RetentionInDays: 30 },
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
  });

  it('is the one the state machine logs to', () => {
    const [logGroupId] = Object.entries(resourcesOf(defaults.template, 'AWS::Logs::LogGroup')).find(
      ([, group]) => group.Properties?.LogGroupName === '/aws/vendedlogs/states/TransferTest-transfer-workflow',
    ) ?? [''];
    defaults.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: { Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroupId, 'Arn'] } } }] },
    });
  });
});

describe('CORS for portal pages (context portalOrigins)', () => {
  it('lets the given origins call every route from a browser, with the token, JSON, Idempotency-Key and Location', () => {
    deployable.template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: {
        AllowOrigins: [PORTAL, 'http://localhost:5173'],
        AllowHeaders: ['authorization', 'content-type', 'idempotency-key'],
        AllowMethods: ['GET', 'POST', 'DELETE', 'HEAD'],
        ExposeHeaders: ['location'],
        MaxAge: PORTAL_CORS.maxAgeSeconds,
        AllowCredentials: Match.absent(),
      },
    });
    // Every method a route uses.
    expect(new Set(HTTP_ROUTES.map((route) => route.method))).toEqual(new Set(PORTAL_CORS.allowMethods));
  });

  it('is left out without portal origins', () => {
    defaults.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: Match.absent() });
  });

  const origins = (portalOrigins: unknown) => readTransferSettings(new App({ context: { portalOrigins } })).portalOrigins;

  it.each([
    ['a list from cdk.json', [PORTAL, 'https://b.example'], [PORTAL, 'https://b.example']],
    ['a comma-separated -c value', ` ${PORTAL}, https://b.example:8443 ,`, [PORTAL, 'https://b.example:8443']],
    ['loopback origins over http', 'http://localhost:5173,http://127.0.0.1:8080', ['http://localhost:5173', 'http://127.0.0.1:8080']],
    ['an empty -c value', '', undefined],
    ['an empty list', [], undefined],
    ['nothing', undefined, undefined],
  ])('read from %s', (_label, value, expected) => {
    expect(origins(value)).toEqual(expected);
  });

  it.each([
    ['http off loopback', 'http://portal.provider.example'],
    ['a path', `${PORTAL}/app`],
    ['a trailing slash', `${PORTAL}/`],
    ['a wildcard', '*'],
    ['no scheme', 'portal.provider.example'],
    ['upper case', 'https://Portal.provider.example'],
    ['a query', `${PORTAL}?x=1`],
    ['a number in a list', [PORTAL, 443]],
    ['an object', { origin: PORTAL }],
  ])('refuse %s', (_label, value) => {
    expect(() => origins(value)).toThrow(/portalOrigins/);
  });
});

describe('the example defaults', () => {
  const rules = (s: SynthesizedStack): Record<string, { Assertions: { Assert: unknown; AssertDescription: string }[] }> =>
    (s.template.toJSON() as { Rules?: Record<string, { Assertions: { Assert: unknown; AssertDescription: string }[] }> }).Rules ?? {};

  it('make `cdk deploy` fail with one line naming the keys to set: a rule CloudFormation checks before touching anything', () => {
    const rule = rules(defaults).RefuseExampleDefaults;
    expect(rule).toEqual({
      Assertions: [{ Assert: { 'Fn::Equals': ['senderEmail jwtIssuer devopsEmail', 'none'] }, AssertDescription: REFUSAL }],
    });
    expect(REFUSAL).not.toContain('\n');
  });

  it('still synthesize, with the same line as a warning', () => {
    const warnings = Annotations.fromStack(defaults.stack).findWarning('/TransferTest', Match.stringLikeRegexp('^Set context senderEmail'));
    expect(warnings.map((warning) => String(warning.entry.data).split(' [ack:')[0])).toEqual([REFUSAL]);
  });

  it('are not in a deployment that sets them all: no rule, no warning', () => {
    expect(Object.keys(rules(deployable))).not.toContain('RefuseExampleDefaults');
    expect(JSON.stringify(deployable.template.toJSON())).not.toContain('example defaults');
    expect(Annotations.fromStack(deployable.stack).findWarning('*', Match.stringLikeRegexp('example defaults'))).toEqual([]);
  });

  it('name only the keys still at their example value', () => {
    const settings = readTransferSettings(new App({ context: { senderEmail: DEPLOYABLE.senderEmail, devopsEmail: 'devops@example.com' } }));
    // Given explicitly or by default, an example value cannot work.
    expect(exampleDefaultsInUse(settings)).toEqual(['jwtIssuer', 'devopsEmail']);
    expect(exampleDefaultsRefusal(exampleDefaultsInUse(settings))).toBe(
      'Set context jwtIssuer and devopsEmail (cdk deploy -c jwtIssuer=... -c devopsEmail=...): the example defaults cannot verify portal tokens or reach DevOps with alerts',
    );
    expect(exampleDefaultsRefusal(['senderEmail'])).toBe(
      'Set context senderEmail (cdk deploy -c senderEmail=...): the example defaults cannot send mail',
    );
  });
});
