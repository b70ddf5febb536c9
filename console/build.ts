/**
 * Bundles the console (console/app.tsx: Preact components, Chart.js, the typed client) into
 * static files: index.html, console.css, app.js. The local runtime serves them at /console; the
 * stack deploys them to S3 behind CloudFront. `npm run build:console` writes them to console/dist.
 * Everything is bundled: the console loads nothing from elsewhere and works offline.
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, buildSync, type BuildOptions } from 'esbuild';

export interface ConsoleFiles {
  'index.html': string;
  'console.css': string;
  'app.js': string;
}

const OPTIONS = {
  entryPoints: [fileURLToPath(new URL('./app.tsx', import.meta.url))],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  // Preact's automatic JSX runtime: no `h` import in every component file.
  jsx: 'automatic',
  jsxImportSource: 'preact',
  define: { 'process.env.NODE_ENV': '"production"' },
  write: false,
  logLevel: 'silent',
} satisfies BuildOptions;

const read = (name: string) => readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');

/** The same, synchronously: the CDK stack builds the site while it synthesizes. */
export function buildConsoleSync(): ConsoleFiles {
  const out = buildSync(OPTIONS);
  return { 'index.html': read('index.html'), 'console.css': read('console.css'), 'app.js': out.outputFiles[0]!.text };
}

export async function buildConsole(): Promise<ConsoleFiles> {
  const out = await build(OPTIONS);
  return { 'index.html': read('index.html'), 'console.css': read('console.css'), 'app.js': out.outputFiles[0]!.text };
}

/** The API reference's static files, served at /docs/ beside the console; `openapi.json` is added by who serves it. */
export interface ApiReferenceFiles {
  'index.html': string;
  'reference.js': string;
  'swagger-ui.css': string;
  'swagger-ui-bundle.js': string;
}

/**
 * The API reference: Swagger UI from swagger-ui-dist (npm), as static files with no CDN fetch, no
 * inline script and no eval, so it runs under the console's CSP. Chosen over Redoc and Scalar,
 * whose bundles inject <style> elements at run time (the CSP allows only style-src 'self').
 */
export function buildApiReference(): ApiReferenceFiles {
  const dist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const fromDist = (name: string) => readFileSync(join(dist, name), 'utf8');
  const own = (name: string) => readFileSync(new URL(`./reference/${name}`, import.meta.url), 'utf8');
  return {
    'index.html': own('index.html'),
    'reference.js': own('reference.js'),
    'swagger-ui.css': fromDist('swagger-ui.css'),
    // The source map comment would make browsers fetch a file the site does not serve.
    'swagger-ui-bundle.js': fromDist('swagger-ui-bundle.js').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const files = await buildConsole();
  const dist = new URL('./dist/', import.meta.url);
  mkdirSync(dist, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(new URL(name, dist), content);
  console.log(`console built: ${Object.entries(files).map(([n, c]) => `${n} ${c.length} B`).join(', ')}`);
}
