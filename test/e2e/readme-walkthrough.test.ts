/**
 * The README's walkthrough, run as written: its ```sh blocks, in order, in one bash session,
 * against `npm start` (the first block) with the `herald` command line only (no curl). The one
 * change is the receiver's port, 4000 in the README, swapped for a free one so the test cannot
 * collide with anything on the machine; `PORT` and `HERALD_URL` point npm start and the CLI at
 * a free port the same way an operator would set them. The webhook the receiver starter prints
 * must verify, by its own check and again here with the `standardwebhooks` package.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const README_RECEIVER_PORT = '4000';

/** The ```sh blocks of the README's "## Walkthrough" section, in order. */
function walkthroughBlocks(): string[] {
  const start = README.indexOf('\n## Walkthrough\n');
  if (start === -1) throw new Error('README.md has no "## Walkthrough" section');
  const end = README.indexOf('\n## ', start + 1);
  const section = README.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** The commands of a block: its lines without comments and blank lines. */
const commandsOf = (block: string) => block.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let shell: ChildProcess | undefined;

afterAll(async () => {
  if (!shell || shell.exitCode !== null || shell.signalCode !== null) return;
  // The shell and what it started in the background (npm start, the receiver): its own group.
  const closed = new Promise((resolve) => shell!.once('close', resolve));
  process.kill(-shell.pid!, 'SIGTERM');
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 8000))]);
  try {
    process.kill(-shell.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
});

describe('README walkthrough', () => {
  it('uses the herald command line only', () => {
    const blocks = walkthroughBlocks();
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    const commands = blocks.flatMap(commandsOf);
    expect(commands.join('\n')).not.toMatch(/\bcurl\b|\bnode -e\b|\bfetch\(/);
    for (const command of commands) expect(command, command).toMatch(/^(HERALD_ADMIN_KEY=\S+ npm start &|npx herald |read -r [A-Z_ ]+ <<< "\$\(npx herald )/);
    expect(commands.some((c) => c.startsWith(`npx herald receive --port ${README_RECEIVER_PORT} `))).toBe(true);
  });

  it('runs as written against npm start, and the webhook verifies with standardwebhooks', async () => {
    const apiPort = await freePort();
    const receiverPort = String(await freePort());
    const blocks = walkthroughBlocks().map((b) => b.replaceAll(README_RECEIVER_PORT, receiverPort));

    shell = spawn('bash', ['--noprofile', '--norc'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(apiPort),
        HERALD_URL: `http://127.0.0.1:${apiPort}`,
        HERALD_KEY: '',
        HERALD_CONFIG: '/nonexistent/herald.json', // no profile of the machine's user leaks in
        HERALD_PROFILE: '',
        POWERTOOLS_LOG_LEVEL: 'ERROR',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    shell.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    shell.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const until = async (what: string, test: () => boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (!test()) {
        if (shell!.exitCode !== null) throw new Error(`the shell exited (${shell!.exitCode}) waiting for ${what}; output:\n${output}`);
        if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms; output:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const count = (pattern: RegExp) => (output.match(pattern) ?? []).length;

    let background = 0;
    const run = async (block: string, step: string) => {
      shell!.stdin!.write(`${block}\necho "__${step}__ $?"\n`);
      await until(`the end of step ${step}`, () => output.includes(`__${step}__ `), 60_000);
      expect(new RegExp(`__${step}__ 0`).test(output), `step ${step}:\n${block}\noutput:\n${output}`).toBe(true);
      // A command sent to the background is ready when it says so (npm start, herald receive).
      background += commandsOf(block).filter((c) => c.trimEnd().endsWith('&')).length;
      await until('the background command to be ready', () => count(/ready at http:\/\/127\.0\.0\.1:\d+/g) >= background, 60_000);
    };

    const deliveriesBlock = blocks.findIndex((b) => b.includes('npx herald deliveries list'));
    const publishBlock = blocks.findIndex((b) => b.includes('npx herald publish'));
    expect(publishBlock).toBeGreaterThan(0);
    expect(deliveriesBlock).toBeGreaterThan(publishBlock);
    for (const [i, block] of blocks.entries()) {
      if (i === deliveriesBlock) {
        // The receiver has printed the webhook; the delivery's record follows its answer.
        await until('the receiver printing the webhook', () => output.includes('signature verified (v1)'), 30_000);
        for (let attempt = 0; ; attempt++) {
          const before = output.length;
          await run(block, `step${i}_${attempt}`);
          if (/dlv_\S+\s+succeeded\s+order\.created\s+order-1001\s+1\s+204/.test(output.slice(before)) || attempt >= 20) break;
          await new Promise((r) => setTimeout(r, 250));
        }
      } else {
        await run(block, `step${i}`);
      }
    }

    expect(output).toMatch(/^published evt_\S+$/m);
    expect(output).toMatch(/dlv_\S+\s+succeeded\s+order\.created\s+order-1001\s+1\s+204/);
    const printed = /^✓ POST \/hooks {2}signature verified \(v1\) {2}→ 204\n {2}webhook-id: (\S+)\n {2}webhook-timestamp: (\d+)\n {2}webhook-signature: (.+)\n {2}(.+)$/m.exec(output);
    expect(printed, output).not.toBeNull();
    const [, id, timestamp, signature, body] = printed!;
    expect(JSON.parse(body!)).toMatchObject({ type: 'order.created', subject: 'order-1001', data: { orderId: 'order-1001', total: 129.5 } });

    // The secret the walkthrough's shell holds, checked by a second, independent verification.
    shell.stdin!.write('echo "__secret__ $SECRET"\n');
    await until('the secret', () => /__secret__ whsec_\S+/.test(output), 10_000);
    const secret = /__secret__ (whsec_\S+)/.exec(output)![1]!;
    const headers = { 'webhook-id': id!, 'webhook-timestamp': timestamp!, 'webhook-signature': signature! };
    expect(new Webhook(secret).verify(body!, headers)).toMatchObject({ subject: 'order-1001' });
    expect(() => new Webhook(secret).verify(body!.replace('order-1001', 'order-1002'), headers)).toThrow();
  }, 150_000);
});
