export const Exit = {
  Ok: 0,
  /** Invalid config, or the operation failed. */
  Failed: 1,
  /** Bad flags or arguments. */
  Usage: 2,
} as const;
