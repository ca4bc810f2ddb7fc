// Structured logs: one JSON line per event, with resource, action, outcome and
// duration where they apply. Secrets never go in: SSH keys and passwords are
// not part of any resource, and redaction guards the obvious field names.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { node: string; level?: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: opts.level ?? process.env.ROUTERD_LOG_LEVEL ?? 'info',
      base: { node: opts.node },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['*.password', '*.privateKey', '*.secret', 'password', 'privateKey', 'secret'], censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? process.stdout,
  );
}
