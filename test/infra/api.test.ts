import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { HTTP_FUNCTIONS, HTTP_ROUTES } from '../../lambdas/handlers/catalog.ts';
import { resourceById, resourcesOf, synthesize, type SynthesizedStack } from './synth.ts';

let synthesized: SynthesizedStack;

beforeAll(() => {
  synthesized = synthesize({ jwtIssuer: 'https://login.partners.test/', jwtAudience: 'portal-test' });
});

/** What a route's integration invokes, as a logical id (an alias's: `Ref` gives its ARN). */
function routeTarget(routeKey: string): { authorizationType: unknown; authorizerId: unknown; invokedId: unknown } {
  const routes = Object.values(resourcesOf(synthesized.template, 'AWS::ApiGatewayV2::Route')).filter(
    (route) => route.Properties?.RouteKey === routeKey,
  );
  expect(routes, routeKey).toHaveLength(1);
  const properties = routes[0]?.Properties ?? {};
  // Target is {"Fn::Join": ["", ["integrations/", {"Ref": <integration>}]]}.
  const target = properties.Target as { 'Fn::Join': [string, [string, { Ref: string }]] };
  const integrationId = target['Fn::Join'][1][1].Ref;
  const uri = resourceById(synthesized.template, integrationId).Properties?.IntegrationUri as { Ref?: string };
  return {
    authorizationType: properties.AuthorizationType,
    authorizerId: properties.AuthorizerId,
    invokedId: uri.Ref,
  };
}

describe('the HTTP API', () => {
  it('checks portal JWTs against the issuer and audience from context, read from the Authorization header', () => {
    synthesized.template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: 'https://login.partners.test/', Audience: ['portal-test'] },
    });
  });

  it('has exactly the catalog routes', () => {
    const keys = Object.values(resourcesOf(synthesized.template, 'AWS::ApiGatewayV2::Route')).map((route) => route.Properties?.RouteKey);
    expect(keys.sort()).toEqual(HTTP_ROUTES.map((route) => `${route.method} ${route.path}`).sort());
  });

  it.each(HTTP_ROUTES.map((route) => [`${route.method} ${route.path}`, route] as const))(
    '%s reaches its handler (through its live alias) with the right authorization',
    (routeKey, route) => {
      const target = routeTarget(routeKey);
      expect(target.invokedId).toBe(synthesized.aliasIds[route.handler]);
      if (route.auth === 'jwt') {
        expect(target.authorizationType).toBe('JWT');
        expect(target.authorizerId).toEqual({ Ref: expect.stringMatching(/PortalJwt/) });
      } else {
        expect(target.authorizationType).toBe('NONE');
        expect(target.authorizerId).toBeUndefined();
      }
    },
  );

  it('shares one integration per function across its routes', () => {
    synthesized.template.resourceCountIs('AWS::ApiGatewayV2::Integration', HTTP_FUNCTIONS.length);
    synthesized.template.allResourcesProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
    });
  });

  it('serves the $default stage with throttling and access logs that never hold a path, a header or a token', () => {
    synthesized.template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    synthesized.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue() },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('\\$context\\.routeKey') },
    });
    const stage = Object.values(resourcesOf(synthesized.template, 'AWS::ApiGatewayV2::Stage'))[0];
    const settings = stage?.Properties?.AccessLogSettings as { Format: string };
    const format = JSON.parse(settings.Format) as Record<string, string>;
    expect(format.requestId).toBe('$context.requestId');
    const fields = Object.values(format).join(' ');
    // Approval paths carry link secrets; headers carry bearer tokens.
    expect(fields).not.toMatch(/\$context\.path|\$request|header|authorization|claims|querystring/i);
  });

  it('keeps access logs for a month', () => {
    const stage = Object.values(resourcesOf(synthesized.template, 'AWS::ApiGatewayV2::Stage'))[0];
    const destination = (stage?.Properties?.AccessLogSettings as { DestinationArn: { 'Fn::GetAtt': [string, string] } }).DestinationArn;
    expect(resourceById(synthesized.template, destination['Fn::GetAtt'][0]).Properties).toMatchObject({ RetentionInDays: 30 });
  });
});
