#!/usr/bin/env node
// The `herald` command (package.json "bin"): registers tsx, then runs cli/herald.ts.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('./herald.ts');
run(process.argv.slice(2));
