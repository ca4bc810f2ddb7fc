// SSH options as written in `target.sshOptions` (ssh argv tokens), parsed into
// ssh_config `Key value` pairs against an allowlist of keys, each with a value
// check. Only what passes is ever handed to ssh: as `-o Key=value` argv tokens
// (session sync) or as lines of a generated ssh_config file (rsync's -e).
// Anything that runs local commands, loads code, points host keys anywhere but
// a real known_hosts file or turns their check off is refused by name
// (RD_E_INSECURE_SSH_OPTION); any other key not listed is refused as
// unsupported.
import { isIPv4, isIPv6 } from 'node:net';

export interface SshOption {
  /** The ssh_config key in its canonical spelling, e.g. `ConnectTimeout`. */
  readonly key: string;
  readonly value: string;
}

export interface SshOptionProblem {
  readonly message: string;
  /** Refused because it weakens host authentication or runs code, not just unsupported. */
  readonly insecure: boolean;
}

type Check = (v: string) => string | undefined;

const oneOf =
  (...allowed: string[]): Check =>
  (v) =>
    allowed.includes(v.toLowerCase()) ? undefined : `must be one of ${allowed.join(', ')}`;
const yesNo = oneOf('yes', 'no');
const count =
  (max: number): Check =>
  (v) =>
    /^\d{1,7}$/.test(v) && Number(v) <= max ? undefined : `must be a whole number from 0 to ${max}`;
const algorithms: Check = (v) => (/^[+^-]?[A-Za-z0-9@._-]+(,[A-Za-z0-9@._-]+)*$/.test(v) ? undefined : 'must be a comma-separated list of algorithm names');
/** An absolute path without %-tokens, ~ or spaces: ssh expands the first two, config files split on the last. */
export const SAFE_PATH = /^\/[A-Za-z0-9_.@+,/-]*$/;
const absolutePath: Check = (v) => (SAFE_PATH.test(v) ? undefined : 'must be an absolute path of letters, digits and _ . @ + , / - (no ~, %, spaces or quotes)');
const jumpHost = /^([a-z_][a-z0-9_.-]{0,31}@)?([A-Za-z0-9]([-A-Za-z0-9.]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/;
const proxyJump: Check = (v) =>
  v.split(',').every((h) => jumpHost.test(h)) ? undefined : 'must be [user@]host[:port], comma-separated (no ssh:// URIs, no options)';
const address: Check = (v) => (isIPv4(v) || isIPv6(v) ? undefined : 'must be an IP address');
/**
 * A dedicated known_hosts file keeps checking on (docs/deploy.md uses one);
 * /dev/null, "none" or a pseudo-file would throw the keys away.
 */
const knownHostsFile: Check = (v) => {
  if (!SAFE_PATH.test(v) || v.endsWith('/')) return 'must be the absolute path of a known_hosts file (no ~, %, spaces or several files)';
  if (/^\/(dev|proc|sys|run\/user)\//.test(v) || v === '/dev/null') return `${v} is not a known_hosts file: host keys would be discarded and checking turned off`;
  return undefined;
};

/** Keys routerd passes through, by lower-cased name. */
const ALLOWED: ReadonlyMap<string, { key: string; check: Check }> = new Map(
  (
    [
      ['BatchMode', yesNo],
      ['ConnectTimeout', count(3600)],
      ['ConnectionAttempts', count(100)],
      ['ServerAliveInterval', count(3600)],
      ['ServerAliveCountMax', count(1000)],
      ['TCPKeepAlive', yesNo],
      ['Compression', yesNo],
      ['AddressFamily', oneOf('any', 'inet', 'inet6')],
      ['BindAddress', address],
      ['IdentityFile', absolutePath],
      ['IdentitiesOnly', yesNo],
      ['CertificateFile', absolutePath],
      ['ProxyJump', proxyJump],
      ['UserKnownHostsFile', knownHostsFile],
      ['GlobalKnownHostsFile', knownHostsFile],
      ['StrictHostKeyChecking', (v: string) => (['yes', 'accept-new'].includes(v.toLowerCase()) ? undefined : 'must be yes or accept-new')],
      ['CheckHostIP', yesNo],
      ['HashKnownHosts', yesNo],
      ['UpdateHostKeys', oneOf('yes', 'no', 'ask')],
      ['VerifyHostKeyDNS', oneOf('yes', 'no', 'ask')],
      ['Ciphers', algorithms],
      ['MACs', algorithms],
      ['KexAlgorithms', algorithms],
      ['HostKeyAlgorithms', algorithms],
      ['PubkeyAcceptedAlgorithms', algorithms],
      ['PreferredAuthentications', algorithms],
      ['LogLevel', oneOf('quiet', 'fatal', 'error', 'info', 'verbose', 'debug', 'debug1', 'debug2', 'debug3')],
      ['RekeyLimit', (v: string) => (/^\d{1,10}[KMG]?( (none|\d{1,7}[smhdw]?))?$/.test(v) ? undefined : 'must be SIZE [TIME], e.g. 1G 1h')],
      ['IPQoS', (v: string) => (/^[a-z0-9]{1,8}( [a-z0-9]{1,8})?$/.test(v) ? undefined : 'must be one or two QoS names, e.g. lowdelay throughput')],
    ] as const
  ).map(([key, check]) => [key.toLowerCase(), { key, check }]),
);

/** Keys refused because they weaken host authentication, run commands or load code. */
const INSECURE: ReadonlyMap<string, string> = new Map([
  ['stricthostkeychecking', 'StrictHostKeyChecking other than yes/accept-new turns host-key checking off; preload known_hosts for the target instead'],
  ['userknownhostsfile', 'UserKnownHostsFile must name a real known_hosts file'],
  ['globalknownhostsfile', 'GlobalKnownHostsFile must name a real known_hosts file'],
  ['knownhostscommand', 'KnownHostsCommand runs a local command that decides host keys'],
  ['hostkeyalias', 'HostKeyAlias lets one host answer with another\'s key'],
  ['proxycommand', 'ProxyCommand runs a local shell command; use -J (ProxyJump) for jump hosts'],
  ['localcommand', 'LocalCommand runs a local shell command'],
  ['permitlocalcommand', 'PermitLocalCommand enables LocalCommand, which runs a local shell command'],
  ['pkcs11provider', 'PKCS11Provider loads a shared library into ssh'],
  ['securitykeyprovider', 'SecurityKeyProvider loads a shared library into ssh'],
  ['remotecommand', 'RemoteCommand replaces the command routerd runs on the target'],
  ['include', 'Include reads another config file with options routerd has not checked'],
  ['match', 'Match can run a command (exec) and apply unchecked options'],
  ['host', 'Host blocks are not options; routerd writes the config'],
  ['forwardagent', 'ForwardAgent hands the standby your agent\'s keys'],
  ['controlmaster', 'ControlMaster is managed by routerd (one persistent connection per target in the run dir)'],
  ['controlpath', 'ControlPath is managed by routerd (the run dir\'s ssh/ directory)'],
  ['controlpersist', 'ControlPersist is managed by routerd'],
]);

/** ssh flags read as their ssh_config key; anything else is refused. */
const FLAG_KEYS: Readonly<Record<string, string>> = { '-i': 'IdentityFile', '-J': 'ProxyJump', '-c': 'Ciphers', '-m': 'MACs', '-b': 'BindAddress' };
const FLAGS_ALONE: Readonly<Record<string, SshOption>> = {
  '-4': { key: 'AddressFamily', value: 'inet' },
  '-6': { key: 'AddressFamily', value: 'inet6' },
  '-C': { key: 'Compression', value: 'yes' },
  '-q': { key: 'LogLevel', value: 'quiet' },
  '-v': { key: 'LogLevel', value: 'verbose' },
};
const REFUSED_FLAGS: Readonly<Record<string, SshOptionProblem>> = {
  '-F': { message: '-F makes ssh read an unchecked config file; give the options in sshOptions', insecure: true },
  '-p': { message: 'set the port with target.port, not -p', insecure: false },
  '-l': { message: 'set the login with target.user, not -l', insecure: false },
  '-A': { message: '-A hands the standby your agent\'s keys', insecure: true },
  '-o': { message: '"-o" at the end has no option after it', insecure: false },
};

/** Printable ASCII only: a control character or newline would end a config line. */
const PRINTABLE = /^[\x20-\x7e]*$/;

/** Check one `Key value` pair against the allowlist. */
export function checkSshOption(rawKey: string, rawValue: string): SshOption | SshOptionProblem {
  const lower = rawKey.toLowerCase();
  const value = rawValue.trim();
  const shown = `${rawKey}=${PRINTABLE.test(rawValue) ? rawValue : JSON.stringify(rawValue)}`;
  const allowed = ALLOWED.get(lower);
  if (!PRINTABLE.test(rawValue) || /["'\\]/.test(value))
    return { message: `"${shown}": quotes, backslashes and control characters are not allowed in ssh option values`, insecure: INSECURE.has(lower) };
  if (allowed) {
    const why = allowed.check(value);
    if (why === undefined) return { key: allowed.key, value };
    return { message: `"${shown}": ${allowed.key} ${why}`, insecure: INSECURE.has(lower) };
  }
  const insecure = INSECURE.get(lower);
  if (insecure) return { message: `"${shown}": ${insecure}`, insecure: true };
  return { message: `"${rawKey}" is not an ssh option routerd passes on (allowed: ${[...ALLOWED.values()].map((a) => a.key).join(', ')})`, insecure: false };
}

export function parseSshOptions(tokens: readonly string[]): { options: SshOption[]; problems: SshOptionProblem[] } {
  const options: SshOption[] = [];
  const problems: SshOptionProblem[] = [];
  const add = (r: SshOption | SshOptionProblem) => ('message' in r ? problems.push(r) : options.push(r));
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '-o' || (t.startsWith('-o') && t.length > 2)) {
      const body = t === '-o' ? tokens[++i] : t.slice(2);
      if (body === undefined) {
        problems.push(REFUSED_FLAGS['-o']!);
        continue;
      }
      const m = /^([A-Za-z][A-Za-z0-9]*)(?:[ \t]*=[ \t]*|[ \t]+)([^]*)$/.exec(body);
      if (!m) problems.push({ message: `"${PRINTABLE.test(body) ? body : JSON.stringify(body)}" is not Key=Value`, insecure: false });
      else add(checkSshOption(m[1]!, m[2]!));
    } else if (FLAG_KEYS[t]) {
      const v = tokens[++i];
      if (v === undefined) problems.push({ message: `"${t}" needs a value`, insecure: false });
      else add(checkSshOption(FLAG_KEYS[t], v));
    } else if (FLAGS_ALONE[t]) {
      options.push(FLAGS_ALONE[t]);
    } else if (REFUSED_FLAGS[t] || REFUSED_FLAGS[t.slice(0, 2)]) {
      problems.push(REFUSED_FLAGS[t] ?? REFUSED_FLAGS[t.slice(0, 2)]!);
      // -F FILE, -p PORT, -l USER: the value is part of the refused option.
      if (['-F', '-p', '-l'].includes(t)) i++;
    } else {
      problems.push({ message: `"${PRINTABLE.test(t) ? t : JSON.stringify(t)}" is not a supported ssh option (use -o Key=Value, -i, -J, -c, -m, -b, -4, -6, -C, -q, -v)`, insecure: false });
    }
  }
  return { options, problems };
}
