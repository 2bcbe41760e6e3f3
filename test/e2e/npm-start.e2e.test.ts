import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/emulators.ts';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const stateDirs: string[] = [];
afterAll(async () => {
  await Promise.all(stateDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('npm start', () => {
  it('serves the whole stack on the ports from the environment, and Ctrl-C stops every process', async () => {
    const ports = { DYNAMODB_PORT: await freePort(), SES_PORT: await freePort(), SFN_PORT: await freePort(), API_PORT: await freePort(), EVENTS_PORT: await freePort() };
    const stateDir = await mkdtemp(join(tmpdir(), 'transfer-start-'));
    stateDirs.push(stateDir);
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
      env: { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])), LOCAL_STATE_DIR: stateDir, POWERTOOLS_LOG_LEVEL: 'WARN' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    const deadline = Date.now() + 60_000;
    while (!output.includes('is ready') && Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(output).toContain('is ready');
    console.log(`local stack ready in ${Date.now() - started} ms`);
    expect(output).toContain(`http://127.0.0.1:${ports.API_PORT}`);
    expect((await fetch(`http://127.0.0.1:${ports.API_PORT}/health`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ports.SES_PORT}/health-check`)).status).toBe(200);
    expect(output).toContain(`http://127.0.0.1:${ports.EVENTS_PORT}`);
    expect(await (await fetch(`http://127.0.0.1:${ports.EVENTS_PORT}/events`)).json()).toEqual({ events: [] });
    for (const port of Object.values(ports)) expect(await portOpen(port)).toBe(true);

    // npm run seed and npm run token work against the running stack.
    const env = { ...process.env, DYNAMODB_PORT: String(ports.DYNAMODB_PORT), LOCAL_STATE_DIR: stateDir };
    const file = join(stateDir, 'directory.json');
    await writeFile(
      file,
      JSON.stringify({
        partners: [{ id: 'P-SEEDED', name: 'Seeded Partner', invoiceDay: 10, contacts: ['ops@seeded.example'] }],
        customers: [{ id: 'C-SEEDED', name: 'Seeded Customer', partnerId: 'P-SEEDED', domains: ['seeded.example'], settings: { spamThreshold: 4 }, users: [] }],
      }),
    );
    const run = promisify(execFile);
    const seeded = await run(process.execPath, ['--import', 'tsx', 'local/seed.ts', file], { env });
    expect(seeded.stdout).toContain('Loaded 1 partner and 1 customer');
    const token = (await run(process.execPath, ['--import', 'tsx', 'local/token.ts', '--partner', 'P-SEEDED'], { env })).stdout.trim();
    const customer = await fetch(`http://127.0.0.1:${ports.API_PORT}/customers/C-SEEDED`, { headers: { authorization: `Bearer ${token}` } });
    expect(customer.status).toBe(200);
    expect(await customer.json()).toMatchObject({ id: 'C-SEEDED', partnerId: 'P-SEEDED', domains: ['seeded.example'], settings: { spamThreshold: 4 } });

    child.kill('SIGINT');
    expect(await exited).toBe(0);
    for (const port of Object.values(ports)) expect(await portOpen(port), `port ${port} closed`).toBe(false);
  }, 90_000);
});
