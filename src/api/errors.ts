// Stable error codes: tests, scripts and operators match on these, so a code
// once shipped keeps its meaning. Messages say what to do next.
export const ErrorCode = {
  YamlSyntax: 'RD_E_YAML_SYNTAX',
  FileNotFound: 'RD_E_FILE_NOT_FOUND',
  NotAResource: 'RD_E_NOT_A_RESOURCE',
  ApiVersion: 'RD_E_API_VERSION',
  UnknownKind: 'RD_E_UNKNOWN_KIND',
  UnknownField: 'RD_E_UNKNOWN_FIELD',
  MissingField: 'RD_E_MISSING_FIELD',
  InvalidType: 'RD_E_INVALID_TYPE',
  InvalidValue: 'RD_E_INVALID_VALUE',
  OutOfRange: 'RD_E_OUT_OF_RANGE',
  InvalidName: 'RD_E_INVALID_NAME',
  DuplicateName: 'RD_E_DUPLICATE_NAME',
  InvalidAddress: 'RD_E_INVALID_ADDRESS',
  InvalidCidr: 'RD_E_INVALID_CIDR',
  InvalidDuration: 'RD_E_INVALID_DURATION',
  InvalidPortRange: 'RD_E_INVALID_PORT_RANGE',
  InvalidHost: 'RD_E_INVALID_HOST',
  InvalidReference: 'RD_E_INVALID_REFERENCE',
  DanglingReference: 'RD_E_DANGLING_REFERENCE',
  InvalidWhen: 'RD_E_INVALID_WHEN',
  UnknownStatusField: 'RD_E_UNKNOWN_STATUS_FIELD',
  InsecureSshOption: 'RD_E_INSECURE_SSH_OPTION',
  InvalidOption: 'RD_E_INVALID_OPTION',
  Conflict: 'RD_E_CONFLICT',
  TooLarge: 'RD_E_TOO_LARGE',
  YamlUnsupported: 'RD_E_YAML_UNSUPPORTED',
  ControlCharacter: 'RD_E_CONTROL_CHARACTER',
  PairMismatch: 'RD_E_PAIR_MISMATCH',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface Position {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly col: number;
}

export interface ConfigError extends Position {
  readonly code: ErrorCode;
  readonly message: string;
  /** `Kind/name` when the error belongs to a resource. */
  readonly resource?: string;
  /** Dotted field path inside the resource, e.g. `spec.targets[0].host`. */
  readonly path?: string;
}

export function formatConfigError(e: ConfigError): string {
  const where = [e.resource, e.path].filter(Boolean).join(' ');
  return `${e.file}:${e.line}:${e.col}: ${e.code}${where ? ` ${where}` : ''}: ${e.message}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

export function compareErrors(a: ConfigError, b: ConfigError): number {
  return a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col || a.code.localeCompare(b.code);
}
