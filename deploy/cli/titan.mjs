#!/usr/bin/env node
// Executable for package.json "bin": loads tsx from this package (wherever it is run from), then the CLI.
import { register } from 'tsx/esm/api';

register();
await import('./titan.ts');
