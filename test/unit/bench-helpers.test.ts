import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { slope } from '../../tools/bench/benchmarks/helpers.js';
import { CountingProxy } from '../../tools/bench/benchmarks/counting-proxy.js';
import { TreeMemorySampler, rehearsalRole, thirdsFloorGrowth } from '../../tools/bench/benchmarks/process-memory.js';

describe('bench helpers', () => {
  it('fits the slope of a line and refuses a single point', () => {
    expect(slope([0, 1, 2, 3], [5, 7, 9, 11])).toBeCloseTo(2, 12);
    expect(slope([0, 1, 2, 3], [4, 4, 4, 4])).toBe(0);
    expect(slope([1], [1])).toBeNaN();
    expect(slope([2, 2], [1, 5])).toBeNaN();
  });

  it("tells a process's warm-up from growth: the RSS floor of the last third against the middle third's", () => {
    // One sample a second for 3 minutes, a 30 MB garbage-collection sawtooth with a 20 s period on top.
    const times = Array.from({ length: 180 }, (_, index) => index * 1000);
    const sawtooth = (index: number): number => ((index % 20) / 20) * 30;
    // Warm-up: 100 MB rising to 140 MB over the first 50 s, flat after.
    const warming = times.map((_, index) => 100 + Math.min(index, 50) * 0.8 + sawtooth(index));
    expect(thirdsFloorGrowth(times, warming, { from: 0, to: 179_000 }).mbPerMin).toBeCloseTo(0, 5);
    // Steady growth of 6 MB a minute under the same sawtooth: about that, whatever the sawtooth.
    const leaking = times.map((_, index) => 100 + index * 0.1 + sawtooth(index));
    const leak = thirdsFloorGrowth(times, leaking, { from: 0, to: 179_000 });
    expect(leak.mbPerMin).toBeGreaterThan(5);
    expect(leak.mbPerMin).toBeLessThan(7);
    expect(leak.mb).toBeCloseTo(6, 0);
    // A window with no sample in a third says nothing.
    expect(thirdsFloorGrowth([0, 1000], [1, 2], { from: 0, to: 9000 }).mbPerMin).toBeNaN();
  });

  it('names the processes of a rehearsal from their command lines', () => {
    expect(rehearsalRole('redis-server 127.0.0.1:4242')).toBe('redis-server');
    expect(rehearsalRole('/usr/bin/node /x/bin/wavefier --json download-worker --redis r --queue q')).toBe('download-worker');
    expect(rehearsalRole('node bin/wavefier rehearse --count 10')).toBe('rehearse');
    expect(rehearsalRole('/usr/bin/node /x/bin/wavefier --json lake serve --dir /tmp/l')).toBe('lake');
    expect(rehearsalRole('/usr/bin/node /x/bin/wavefier --json upload --redis r')).toBe('upload');
    expect(rehearsalRole('/usr/bin/node /x/bin/wavefier --json download --redis r')).toBe('download');
    expect(rehearsalRole('/usr/bin/node /x/bin/wavefier upload-worker --redis r')).toBe('upload-worker');
  });

  it.runIf(process.platform === 'linux')('samples the RSS of a process and of its children from /proc', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      const sampler = new TreeMemorySampler(process.pid, (command) => (command.includes('setTimeout') ? 'child' : 'self'));
      sampler.sample();
      sampler.sample();
      const summaries = sampler.summaries();
      const self = summaries.find((summary) => summary.pid === process.pid);
      const found = summaries.find((summary) => summary.pid === child.pid);
      expect(self?.role).toBe('self');
      expect(self?.maxRssMb).toBeGreaterThan(10);
      expect(self?.hwmMb).toBeGreaterThanOrEqual(self?.maxRssMb ?? Number.POSITIVE_INFINITY);
      expect(self?.samples).toBe(2);
      expect(found?.role).toBe('child');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('counting proxy', () => {
  let server: Server | undefined;
  let proxy: CountingProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('relays HTTP and counts the bytes each way, headers included', async () => {
    const body = 'x'.repeat(1000);
    server = createServer((_request, response) => response.end(body));
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    proxy = await CountingProxy.start(`http://127.0.0.1:${port}`);
    const response = await fetch(`${proxy.url}/path`, { headers: { connection: 'close' } });
    expect(await response.text()).toBe(body);
    expect(proxy.received).toBeGreaterThan(body.length);
    expect(proxy.received).toBeLessThan(body.length + 500);
    expect(proxy.sent).toBeGreaterThan('GET /path HTTP/1.1\r\n'.length);
  });

  it('counts every request of a keep-alive connection once, also when its request line arrives in pieces', async () => {
    server = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.end('ok'));
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    proxy = await CountingProxy.start(`http://127.0.0.1:${port}`);
    const { port: proxyPort } = new URL(proxy.url);
    const socket = connect(Number(proxyPort), '127.0.0.1');
    const answers: string[] = [];
    socket.setEncoding('latin1').on('data', (text: string) => answers.push(text));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const body = '{"dids": [{"scope": "wavefier", "name": "x"}]}';
    const requests = [
      'GET /accounts/whoami HTTP/1.1\r\nHost: x\r\n\r\n',
      `POST /replicas/list HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      'GET /dids/wavefier/ds HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ].join('');
    // Pieces that split the second and the third request line.
    const cuts = [requests.indexOf('POST') + 3, requests.indexOf('GET /dids') + 12];
    let from = 0;
    for (const cut of [...cuts, requests.length]) {
      socket.write(requests.slice(from, cut));
      from = cut;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await closed;
    expect(answers.join('').match(/HTTP\/1\.1 200/g)).toHaveLength(3);
    expect(proxy.requests.map((request) => `${request.method} ${request.target}`)).toEqual([
      'GET /accounts/whoami',
      'POST /replicas/list',
      'GET /dids/wavefier/ds',
    ]);
  });
});
