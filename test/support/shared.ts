// Where the shared corpora live: ../shared beside the project (MESHCTL_SHARED overrides).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root (tests run compiled from dist/test/…). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SHARED = process.env.MESHCTL_SHARED ?? path.resolve(ROOT, '..', 'shared');
export const BIN = path.join(ROOT, 'bin', 'run.js');
