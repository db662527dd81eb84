/** Rucio's generic schema patterns (lib/rucio/common/schema/generic.py). */
const scopePattern = /^[a-zA-Z_\-.0-9]+$/;
export const namePattern = /^[/A-Za-z0-9][/A-Za-z0-9.\-_]*$/;
export const adler32Pattern = /^[a-fA-F\d]{8}$/;
export const md5Pattern = /^[a-fA-F\d]{32}$/;
export const guidPattern = /^(\{){0,1}[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}(\}){0,1}$/;

export function isValidScope(scope: string): boolean {
  return scope.length <= 25 && scopePattern.test(scope);
}

export function isValidName(name: string): boolean {
  return name.length <= 250 && namePattern.test(name);
}

/** Rucio's naming convention without registered conventions: the project of user* and group* scopes. */
export function conventionProject(scope: string): 'user' | 'group' | null {
  return scope.startsWith('user') ? 'user' : scope.startsWith('group') ? 'group' : null;
}
