// Module hooks that resolve the Questlog workspace packages to their TypeScript source (the
// `@questlog/source` export condition), for a Node process whose flags we do not choose (a test
// runner's own process). Register with `module.register(new URL('source-conditions.mjs', …))`;
// processes started from it get `--conditions=@questlog/source` through NODE_OPTIONS instead.
export async function resolve(specifier, context, next) {
  const conditions = context.conditions.includes('@questlog/source')
    ? context.conditions
    : [...context.conditions, '@questlog/source']
  return next(specifier, { ...context, conditions })
}
