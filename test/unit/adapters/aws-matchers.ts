// Registers the aws-sdk-client-mock matchers (toHaveReceivedCommandWith, ...) with vitest's expect;
// the type-only import brings in their declarations for TypeScript.
import { allCustomMatcher } from 'aws-sdk-client-mock-vitest';
import type {} from 'aws-sdk-client-mock-vitest/extend';
import { expect } from 'vitest';

expect.extend(allCustomMatcher);
