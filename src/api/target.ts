// SSH targets, shared by session sync and lease sync.
import { z } from 'zod';
import { ErrorCode } from './errors.ts';
import { hostName, port, resourceName, userName } from './primitives.ts';
import { parseSshOptions } from './ssh.ts';

export const sshOptionsSchema = z
  .array(z.string())
  .default([])
  .superRefine((tokens, ctx) => {
    for (const p of parseSshOptions(tokens).problems)
      ctx.addIssue({ code: 'custom', message: p.message, params: { rdCode: p.insecure ? ErrorCode.InsecureSshOption : ErrorCode.InvalidOption } });
  })
  .describe(
    'Extra ssh argv tokens, e.g. ["-o", "ConnectTimeout=5"]. Each -o key replaces only the same key of the defaults ' +
      '(-o BatchMode=yes -o ConnectTimeout=10). Only allowlisted keys pass (docs/ssh.md); options that turn host-key checking off, ' +
      'change where host keys come from, run local commands or load libraries are refused.',
  );

export const targetFields = {
  name: resourceName.optional().describe('A name for status and logs; defaults to host.'),
  host: hostName.describe('The standby to push to: DNS name or address.'),
  port: port.default(22).describe('SSH port on the target.'),
  user: userName.optional().describe('Login user on the target; defaults to ssh\'s own default.'),
  sshOptions: sshOptionsSchema,
};

export function targetName(t: { name?: string | undefined; host: string }): string {
  return t.name ?? t.host;
}

/** Targets must have distinct names (name, else host). */
export function uniqueTargets<T extends { name?: string | undefined; host: string }>(
  targets: readonly T[],
  ctx: z.RefinementCtx,
): void {
  const seen = new Map<string, number>();
  targets.forEach((t, i) => {
    const n = targetName(t);
    const prev = seen.get(n);
    if (prev !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['targets', i, t.name ? 'name' : 'host'],
        message: `target "${n}" is listed twice (also targets[${prev}]); give each target its own name`,
        params: { rdCode: ErrorCode.DuplicateName },
      });
    else seen.set(n, i);
  });
}
