/**
 * A Rucio REST error: the HTTP status plus the `ExceptionClass` / `ExceptionMessage` pair that real
 * Rucio sends both as headers and as a JSON body (with `Content-Type: application/octet-stream`).
 * Handlers throw it; the server turns it into exactly that answer.
 */
export class RucioApiError extends Error {
  readonly status: number;
  readonly exceptionClass: string;

  constructor(status: number, exceptionClass: string, message: string) {
    super(message);
    this.name = 'RucioApiError';
    this.status = status;
    this.exceptionClass = exceptionClass;
  }
}

export const rucioErrors = {
  cannotAuthenticate: (message: string) => new RucioApiError(401, 'CannotAuthenticate', message),
  identityNotFound: () =>
    new RucioApiError(401, 'IdentityNotFound', 'Cannot authenticate. Username/Password pair does not exist.'),
  accessDenied: (message: string) => new RucioApiError(401, 'AccessDenied', message),
  didNotFound: (scope: string, name: string) =>
    new RucioApiError(404, 'DataIdentifierNotFound', `Data identifier '${scope}:${name}' not found`),
  didAlreadyExists: () => new RucioApiError(409, 'DataIdentifierAlreadyExists', 'Data Identifier already exists!'),
  scopeNotFound: (scope: string) => new RucioApiError(404, 'ScopeNotFound', `Scope '${scope}' does not exist`),
  rseNotFound: (rse: string) => new RucioApiError(404, 'RSENotFound', `RSE '${rse}' cannot be found in vo 'def'`),
  accountNotFound: (account: string) => new RucioApiError(404, 'AccountNotFound', `Account with ID '${account}' cannot be found`),
  ruleNotFound: (id: string) => new RucioApiError(404, 'RuleNotFound', `No rule with the id ${id} found`),
  emptyRseExpression: () => new RucioApiError(400, 'InvalidRSEExpression', 'RSE Expression resulted in an empty set.'),
  invalidRseExpression: (expression: string) =>
    new RucioApiError(400, 'InvalidRSEExpression', `Expression '${expression}' is not a valid RSE expression.`),
  closed: (scope: string, name: string) =>
    new RucioApiError(409, 'UnsupportedOperation', `Data identifier '${scope}:${name}' is closed`),
  unsupported: (message: string) => new RucioApiError(409, 'UnsupportedOperation', message),
  invalidObject: (message: string) => new RucioApiError(400, 'InvalidObject', message),
  invalidValueForKey: (message: string) => new RucioApiError(400, 'InvalidValueForKey', message),
  badJson: () => new RucioApiError(400, 'ValueError', 'Cannot decode json parameter list'),
  notADict: () => new RucioApiError(400, 'TypeError', 'body must be a json dictionary'),
  notAList: () => new RucioApiError(400, 'TypeError', 'body must be a json list'),
  missingKey: (key: string) => new RucioApiError(400, 'KeyError', `'${key}' not defined`),
  fileAlreadyExists: (message: string) => new RucioApiError(409, 'FileAlreadyExists', message),
  duplicate: (message: string) => new RucioApiError(409, 'Duplicate', message),
  /** Uncaught by the attach views, so Rucio answers it 500 (the bulk attachments view: 412). */
  consistencyMismatch: (message: string) => new RucioApiError(500, 'FileConsistencyMismatch', message),
  replicaNotFound: (message: string) => new RucioApiError(404, 'ReplicaNotFound', message),
  unavailable: (message: string) => new RucioApiError(503, 'ResourceTemporaryUnavailable', message),
} as const;

/**
 * Runs `body`, giving an error of `exceptionClass` the status `status`: Rucio's views answer the same
 * exception with different statuses (InvalidRSEExpression: 400 listing RSEs, 409 adding a rule, 500 in a
 * dataset's rules).
 */
export function withStatus<T>(status: number, exceptionClass: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (error instanceof RucioApiError && error.exceptionClass === exceptionClass) throw new RucioApiError(status, exceptionClass, error.message);
    throw error;
  }
}
