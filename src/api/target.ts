// SSH targets, shared by session sync and lease sync.
import { z } from 'zod';
import { ErrorCode } from './errors.ts';
import { hostName, port, resourceName, userName } from './primitives.ts';
import { insecureSshOption, parseSshOptions } from './ssh.ts';

export const sshOptionsSchema = z
  .array(z.string())
  .default([])
  .superRefine((tokens, ctx) => {
    const { options, error } = parseSshOptions(tokens);
    if (error) ctx.addIssue({ code: 'custom', message: error, params: { rdCode: ErrorCode.InvalidOption } });
    for (const o of options) {
      const insecure = insecureSshOption(o);
      if (insecure) ctx.addIssue({ code: 'custom', message: insecure, params: { rdCode: ErrorCode.InsecureSshOption } });
    }
  })
  .describe(
    'Extra ssh argv tokens, e.g. ["-o", "ConnectTimeout=5"]. Each -o key replaces only the same key of the defaults ' +
      '(-o BatchMode=yes -o ConnectTimeout=10). Options that disable host-key checking are refused.',
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
