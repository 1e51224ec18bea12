// One error type for every failure a user must read as a sentence; the exit code travels with it.
export const EXIT = {
  ok: 0,
  negative: 1,
  usage: 2,
  environment: 3,
  held: 4,
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class MeshctlError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.usage) {
    super(message);
    this.name = 'MeshctlError';
    this.exitCode = exitCode;
  }
}

export function usageError(message: string): MeshctlError {
  return new MeshctlError(message, EXIT.usage);
}

export function environmentError(message: string): MeshctlError {
  return new MeshctlError(message, EXIT.environment);
}
