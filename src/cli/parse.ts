import { Command, CommanderError, type OptionValues } from 'commander';
import { UsageError } from '../common/errors.js';
import { parseDuration } from '../common/duration.js';

/** Flag value parsers shared by the subcommands; each names the flag in its error. */

export function positiveInteger(flag: string): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < 1) {
      throw new UsageError(`invalid ${flag} '${value}': expected a whole number >= 1`);
    }
    return parsed;
  };
}

export function nonNegativeInteger(flag: string): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed)) {
      throw new UsageError(`invalid ${flag} '${value}': expected a whole number >= 0`);
    }
    return parsed;
  };
}

export function positiveNumber(flag: string): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed) || parsed <= 0) {
      throw new UsageError(`invalid ${flag} '${value}': expected a number > 0`);
    }
    return parsed;
  };
}

export function duration(flag: string): (value: string) => number {
  return (value) => {
    const ms = parseDuration(value, flag);
    if (ms <= 0) throw new UsageError(`invalid ${flag} '${value}': must be longer than zero`);
    return ms;
  };
}

/** A Rucio lifetime: a duration with a unit, handed to Rucio in whole seconds (at least one). */
export function lifetime(flag: string): (value: string) => number {
  return (value) => {
    const ms = parseDuration(value, flag);
    if (ms < 1000) throw new UsageError(`invalid ${flag} '${value}': Rucio counts lifetimes in seconds; give at least 1s`);
    return Math.ceil(ms / 1000);
  };
}

/** An absolute time: ISO 8601, epoch milliseconds, or "+30s" relative to now. */
export function pointInTime(flag: string, now: () => number = Date.now): (value: string) => number {
  return (value) => {
    const trimmed = value.trim();
    if (trimmed.startsWith('+')) return now() + parseDuration(trimmed.slice(1), flag);
    if (/^\d{12,}$/.test(trimmed)) return Number(trimmed);
    const parsed = Date.parse(trimmed);
    if (Number.isNaN(parsed)) {
      throw new UsageError(`invalid ${flag} '${value}': use an ISO time (2026-11-26T15:00:00Z), epoch ms, or +30s`);
    }
    return parsed;
  };
}

/** A setting given under its name or under an alias: both at once must agree. */
export function eitherName<T>(name: string, value: T | undefined, alias: string, aliasValue: T | undefined): T | undefined {
  if (value !== undefined && aliasValue !== undefined && value !== aliasValue) {
    throw new UsageError(`${name} and ${alias} name the same setting with different values (${String(value)}, ${String(aliasValue)}): give one`);
  }
  return value ?? aliasValue;
}

/**
 * Parses `args` with the options and arguments `define` adds to a command, as that command itself
 * would, without running it: how `wavefier rehearse` checks the flags it will pass to its upload and
 * download. A flag they would refuse is a UsageError that says whose flags they are (`origin`).
 */
export function parseWithOptions(define: (command: Command) => Command, name: string, args: readonly string[], origin: string): { flags: OptionValues; args: string[]; command: Command } {
  const command = define(new Command(name))
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  try {
    command.parse([...args], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError || error instanceof UsageError) {
      throw new UsageError(`${origin}: ${error.message.replace(/^error: /, '')}`, { cause: error });
    }
    throw error;
  }
  return { flags: command.opts(), args: command.args, command };
}
