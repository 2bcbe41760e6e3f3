import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { chooseStage, isExampleValue, stackIdFor } from '../../lib/stages.ts';
import { readTransferSettings, TransferStack } from '../../lib/transfer-stack.ts';
import { featureFlags, synthesize } from './synth.ts';

/** cdk.json's context, as `cdk synth` hands it to the app. */
const cdkContext = (JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> }).context;
const choose = (context: Record<string, unknown>) => chooseStage((key) => context[key]);

/** Real values for the keys a stage must set, as `-c key=value` flags give them. */
const READY = {
  senderEmail: 'transfers@mail.acme-security.net',
  jwtIssuer: 'https://login.acme-security.net/',
  jwtAudience: 'transfer-portal',
  devopsEmail: 'devops@acme-security.net',
  alarmEmail: 'oncall@acme-security.net',
};

describe('stages from cdk.json', () => {
  it('declare dev and prod, each valid in shape, whose example addresses keep them from synthesizing until they are set', () => {
    for (const stage of ['dev', 'prod']) {
      const choice = choose({ ...cdkContext, stage });
      expect(choice).toHaveProperty('problem');
      const problem = 'problem' in choice ? choice.problem : '';
      expect(problem).toMatch(new RegExp(`^Stage ${stage} cannot be synthesized: set senderEmail \\(an example address: `));
      for (const key of ['senderEmail', 'jwtIssuer', 'devopsEmail', 'alarmEmail']) expect(problem).toContain(`${key} (an example address`);
      expect(problem).not.toContain('\n');
      // With the addresses set (-c flags override the stage's values), the stage synthesizes with its own other settings.
      expect(choose({ ...cdkContext, stage, ...READY })).toMatchObject({ stage, settings: { logRetentionDays: stage === 'dev' ? 14 : 365 } });
    }
  });

  it('need no stage: without one (or with local) the offline defaults serve', () => {
    expect(choose(cdkContext)).toEqual({ stage: undefined, settings: {} });
    expect(choose({ ...cdkContext, stage: 'local' })).toEqual({ stage: undefined, settings: {} });
  });
});

describe('a stage', () => {
  it('names each missing key and each example address on one line', () => {
    const choice = choose({ stage: 'prod', stages: { prod: { senderEmail: 'transfers@example.org', jwtIssuer: 'https://id.example.com/', devopsEmail: 'ops@acme.net' } } });
    expect(choice).toEqual({
      problem:
        'Stage prod cannot be synthesized: set senderEmail (an example address: transfers@example.org), jwtIssuer (an example address: https://id.example.com/), ' +
        'jwtAudience (missing), alarmEmail (missing) (in cdk.json stages.prod or with -c key=value).',
    });
  });

  it('refuses a misspelt key, a value of the wrong kind and a log retention CloudWatch does not offer, with the rest', () => {
    const choice = choose({ stage: 'dev', ...READY, stages: { dev: { senderEmial: 'x@acme.net', lockDays: -1, logRetentionDays: 10, jwtIssuer: 'http://login.acme.net/' } } });
    const problem = 'problem' in choice ? choice.problem : '';
    expect(problem).toContain('stages.dev has unknown key senderEmial');
    expect(problem).toContain('stages.dev.lockDays:');
    expect(problem).toContain('stages.dev.logRetentionDays: must be one of 1, 3, 5, 7, 14, 30');
    expect(problem).toContain('stages.dev.jwtIssuer:');
    expect(problem).not.toContain('set ');
  });

  it('may come from -c flags alone, and says when cdk.json does not declare it', () => {
    expect(choose({ stage: 'qa', ...READY })).toEqual({ stage: 'qa', settings: {} });
    expect(choose({ stage: 'qa' })).toMatchObject({ problem: expect.stringContaining('(cdk.json has no stages.qa; add it or give -c key=value)') as unknown });
  });

  it.each(['Prod', 'prod_1', '1prod', 'a'.repeat(21), ''])('refuses the name %j, which goes into the stack name', (stage) => {
    expect(choose({ stage, ...READY })).toMatchObject({ problem: expect.stringMatching(/^Context stage must be a lower-case name/) as unknown });
  });

  it('names its stack, so two stages live in one account', () => {
    expect(stackIdFor(undefined)).toBe('CustomerTransfer');
    expect(stackIdFor('local')).toBe('CustomerTransfer');
    expect(stackIdFor('prod')).toBe('CustomerTransfer-prod');
  });

  it.each([
    ['transfers@example.com', true],
    ['transfers@mail.example.org', true],
    ['https://login.example.com/', true],
    ['https://EXAMPLE.ORG', true],
    ['transfers@example.net', false],
    ['transfers@myexample.com', false],
    ['https://login.example.com.acme.net/', false],
  ])('counts %s as an example address: %s', (value, example) => {
    expect(isExampleValue(value)).toBe(example);
  });
});

describe('a stage\'s stack', () => {
  const synth = (stage: string, overrides: Record<string, unknown> = {}) => {
    const app = new App({ context: { ...featureFlags(), 'aws:cdk:bundling-stacks': [], stages: cdkContext.stages, stage, ...READY, ...overrides } });
    const stack = new TransferStack(app, stackIdFor(stage));
    return { stack, template: Template.fromStack(stack) };
  };

  it('carries the stage in its name and in the names it gives the state machine, the bus and the dashboard', () => {
    const { stack, template } = synth('prod');
    expect(stack.stackName).toBe('CustomerTransfer-prod');
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineName: 'CustomerTransfer-prod-transfer-workflow' });
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'CustomerTransfer-prod-events' });
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'CustomerTransfer-prod-operations' });
  });

  it('tags every taggable resource with the stage, and a stack without a stage with none', () => {
    const { template } = synth('prod');
    // The table's tags live on its replica.
    const [table] = Object.values(template.findResources('AWS::DynamoDB::GlobalTable')) as Array<{ Properties: { Replicas: Array<{ Tags?: unknown }> } }>;
    expect(JSON.stringify(table?.Properties.Replicas[0]?.Tags)).toContain('{"Key":"stage","Value":"prod"}');
    for (const type of ['AWS::Lambda::Function', 'AWS::SQS::Queue', 'AWS::SNS::Topic', 'AWS::StepFunctions::StateMachine']) {
      for (const resource of Object.values(template.findResources(type))) {
        const tags = JSON.stringify((resource as { Properties?: { Tags?: unknown } }).Properties?.Tags ?? []);
        expect(tags, type).toContain('{"Key":"stage","Value":"prod"}');
      }
    }
    expect(Object.keys(template.findResources('AWS::Lambda::Function')).length).toBeGreaterThan(20);
    expect(JSON.stringify(synthesize().template.toJSON())).not.toContain('"Key":"stage"');
  });

  it('keeps every log group for the stage\'s logRetentionDays, and sends alarms to its alarmEmail', () => {
    const { template } = synth('prod');
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    expect(groups.length).toBeGreaterThan(20);
    expect(new Set(groups.map((group) => (group as { Properties: { RetentionInDays?: number } }).Properties.RetentionInDays))).toEqual(new Set([365]));
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: READY.alarmEmail });
    const dev = synth('dev').template;
    expect(new Set(Object.values(dev.findResources('AWS::Logs::LogGroup')).map((group) => (group as { Properties: { RetentionInDays?: number } }).Properties.RetentionInDays))).toEqual(new Set([14]));
  });

  it('lets a -c flag override the stage\'s value', () => {
    const app = new App({ context: { stages: cdkContext.stages, stage: 'dev', ...READY, logRetentionDays: '90' } });
    expect(readTransferSettings(app)).toMatchObject({ logRetentionDays: 90, jwtAudience: 'transfer-portal', portalOrigins: ['https://portal.dev.example.com'] });
  });
});

describe('npx cdk synth -c stage=prod', () => {
  it('fails before synthesizing, with one line naming the keys to set', () => {
    const app = spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
      cwd: new URL('../../', import.meta.url),
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ ...cdkContext, stage: 'prod' }), CDK_OUTDIR: '/nonexistent/never-written' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(app.status).toBe(1);
    const lines = app.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Stage prod cannot be synthesized: set senderEmail .*jwtIssuer .*devopsEmail .*alarmEmail /);
  });
});
