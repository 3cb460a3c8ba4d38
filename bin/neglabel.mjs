#!/usr/bin/env node
// The command line client (src/cli/main.ts), run through tsx as the service itself is.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
