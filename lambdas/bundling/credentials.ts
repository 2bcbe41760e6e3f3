/**
 * The AWS SDK's default credential chain in the function bundles (the alias in lib/bundling.ts):
 * the environment, where Lambda puts the credentials of the function's role. The SDK's own chain
 * looks there first as well; its other sources (SSO, shared ini files, credential processes, web
 * identity tokens, container and instance metadata) and the SDK clients they bring are about 80 KiB
 * of each bundle and 20 ms of each cold start here, for credentials a Lambda function never has.
 * Local runs and tests load the SDK unbundled, with its whole chain.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';
import type { defaultProvider as sdkDefaultProvider } from '@aws-sdk/credential-provider-node';

export const defaultProvider: typeof sdkDefaultProvider = (init = {}) => fromEnv(init);
