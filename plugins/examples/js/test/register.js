// `node --import ./test/register.js --test`: resolves the WIT imports to the fake host.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
      export async function resolve(specifier, context, next) {
        if (specifier.startsWith('aviary:plugin/')) {
          return { url: new URL('./host.js', ${JSON.stringify(import.meta.url)}).href, shortCircuit: true };
        }
        return next(specifier, context);
      }`),
);
