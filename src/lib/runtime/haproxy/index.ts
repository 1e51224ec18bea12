// The HAProxy proxy runtime of the local mesh: one import for the control plane.
export * from './binary.js';
export * from './process.js';
export * from './config.js';
export * from './lua.js';
export * from './runtime-api.js';
export * from './admin.js';
export * from './apply.js';
export * from './weights.js';
export * from './access-log.js';
export * from './types.js';
export * from './compiler.js';
