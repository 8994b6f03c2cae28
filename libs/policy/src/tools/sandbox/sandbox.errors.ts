export class SandboxTimeoutError extends Error {}
export class SandboxFailedError extends Error {}
