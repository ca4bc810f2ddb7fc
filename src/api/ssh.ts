// SSH options as written in `target.sshOptions` (ssh argv tokens). Parsed here so
// validation and the transport's key-by-key merge read them the same way.
export interface SshOption {
  /** Lower-cased option key for `-o Key=Value`, or the flag itself (`-i`). */
  readonly key: string;
  readonly tokens: readonly string[];
  readonly value: string;
}

const FLAGS_WITH_VALUE = new Set(['-i', '-F', '-J', '-c', '-m', '-l', '-b']);
const FLAGS_ALONE = new Set(['-4', '-6', '-C', '-q', '-v', '-vv', '-vvv']);

export function parseSshOptions(tokens: readonly string[]): { options: SshOption[]; error?: string } {
  const options: SshOption[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '-o' || (t.startsWith('-o') && t.length > 2)) {
      const body = t === '-o' ? tokens[++i] : t.slice(2);
      if (body === undefined) return { options, error: '"-o" at the end has no option after it' };
      const m = /^([A-Za-z][A-Za-z0-9]*)(?:\s*=\s*|\s+)(.*)$/.exec(body);
      if (!m) return { options, error: `"${body}" is not Key=Value` };
      options.push({ key: m[1]!.toLowerCase(), tokens: ['-o', `${m[1]}=${m[2]}`], value: m[2]! });
    } else if (FLAGS_WITH_VALUE.has(t)) {
      const v = tokens[++i];
      if (v === undefined) return { options, error: `"${t}" needs a value` };
      options.push({ key: t, tokens: [t, v], value: v });
    } else if (FLAGS_ALONE.has(t)) {
      options.push({ key: t, tokens: [t], value: '' });
    } else if (t === '-p') {
      return { options, error: 'set the port with target.port, not -p' };
    } else {
      return { options, error: `"${t}" is not a supported ssh option (use -o Key=Value, -i, -F, -J, -4, -6)` };
    }
  }
  return { options };
}

/** Options that would turn host-key checking off; routerd refuses them. */
export function insecureSshOption(o: SshOption): string | undefined {
  const v = o.value.trim().toLowerCase();
  if (o.key === 'stricthostkeychecking' && (v === 'no' || v === 'off'))
    return 'StrictHostKeyChecking=no turns host-key checking off; preload known_hosts for the target instead';
  if ((o.key === 'userknownhostsfile' || o.key === 'globalknownhostsfile') && v === '/dev/null')
    return `${o.key === 'userknownhostsfile' ? 'UserKnownHostsFile' : 'GlobalKnownHostsFile'}=/dev/null discards host keys; point it at a real known_hosts file`;
  if (o.key === 'proxycommand' || o.key === 'localcommand' || o.key === 'permitlocalcommand')
    return `${o.key} runs local shell commands; use -J for jump hosts`;
  return undefined;
}
