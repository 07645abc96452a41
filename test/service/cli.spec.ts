import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const bin = path.resolve('bin/sluice.js');

async function sluice(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], {
      env: { ...process.env, SERVICEBUS_CONNECTION_STRING: '' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the sluice CLI', () => {
  it.each([
    [['bogus'], /unknown command 'bogus'/],
    [['run'], /run needs exactly one module path/],
    [['dlq', 'peek'], /dlq needs peek or replay and one entity/],
    [['dlq', 'replay', 'orders', '--limit', 'many'], /--limit must be a positive integer, got 'many'/],
    [['emulator', '--port', 'x'], /--port must be a port number/],
    [['cassandra', 'restart'], /needs start, stop or status, not 'restart'/],
    [['dlq', 'peek', 'orders', '--colour'], /Unknown option '--colour'/],
  ])('prints usage and exits 2 for %j', async (args, message) => {
    const result = await sluice(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    // The development tools answer with their own usage, as their own commands do.
    expect(result.stderr).toMatch(/Usage: (sluice|sluice-cassandra|servicebus-emulator) /);
  });

  it.each([
    ['--help'],
    ['run', '--help'],
    ['dlq', '--help'],
    ['lint', '--help'],
    ['emulator', '--help'],
    ['cassandra', '--help'],
  ])('answers %j with usage and exit 0', async (...args) => {
    const result = await sluice(...args);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage: (sluice|servicebus-emulator|sluice-cassandra) /);
  });

  it('prints the version of the package it runs from', async () => {
    const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const result = await sluice(flag);
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(manifest.version);
    }
  });

  it('stops with the configuration problem when Service Bus is not configured', async () => {
    const result = await sluice('dlq', 'peek', 'orders');
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/SERVICEBUS_CONNECTION_STRING or SERVICEBUS_NAMESPACE must be set/);
  });
});
