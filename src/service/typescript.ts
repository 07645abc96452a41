let registered: Promise<void> | undefined;

/** Whether `path` names a TypeScript module, which Node 20 cannot load by itself. */
export function isTypeScript(path: string): boolean {
  return /\.(?:c|m)?tsx?$/i.test(path);
}

/**
 * Lets `import()` load TypeScript from here on, through tsx (a runtime dependency, loaded only
 * when a `.ts` module is asked for): Node 20 has no type stripping, and compiling a pipeline module
 * first is a step users forget. Idempotent; a no-op when this file itself runs as TypeScript, since
 * a loader (tsx, vitest) is then in place already.
 */
export function registerTypeScript(): Promise<void> {
  registered ??= (async () => {
    if (import.meta.url.endsWith('.ts')) return;
    const { register } = await import('tsx/esm/api');
    register();
  })();
  return registered;
}
