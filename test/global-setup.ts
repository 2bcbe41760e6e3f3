import { allFunctions } from '../lambdas/handlers/catalog.ts';
import { buildBundles } from '../local/lambda-runtime/bundles.ts';
import { deployContext, deployedStack } from '../local/lambda-runtime/deployed-functions.ts';

/**
 * Once per `npm test`, before any test file: the functions' bundles (as CDK builds them) and the
 * synthesized stack, both kept in .local/build, so that every local stack the tests start finds them
 * ready instead of several test files building them at once.
 */
export default async function setup(): Promise<void> {
  const started = Date.now();
  const bundles = await buildBundles(allFunctions());
  await deployedStack(deployContext(process.env));
  const built = [...bundles.values()].filter((bundle) => bundle.built).length;
  console.log(`Function bundles ready (${built} of ${bundles.size} built) and the stack synthesized, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
