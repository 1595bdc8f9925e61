#!/usr/bin/env node
// The `tagpay` command: runs the TypeScript entry through tsx, so no build step is needed.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
