/** Whether `value` meets a target written as '<= 5', '< 100', '>= 1000', '> 0' or '== 0'. */
export function meetsTarget(value: number, target: string): boolean | undefined {
  const match = /^\s*(<=|>=|<|>|==)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/i.exec(target);
  if (!match) return undefined;
  const bound = Number(match[2]);
  switch (match[1]) {
    case '<=':
      return value <= bound;
    case '>=':
      return value >= bound;
    case '<':
      return value < bound;
    case '>':
      return value > bound;
    default:
      return value === bound;
  }
}
