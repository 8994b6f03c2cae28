import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebhookSender } from './webhook.sender';

describe('WebhookSender', () => {
  let server: Server;
  let url: string;
  let written = 0;

  beforeAll(async () => {
    // A receiver that accepts the delivery and then streams a body without end.
    server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) written += chunk.length;
      };
      res.on('drain', pump);
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("counts a 2xx as delivered without reading the receiver's body", async () => {
    const sender = new WebhookSender({ url, secret: 's'.repeat(32), timeoutMs: 10_000, attempts: 1 });
    try {
      expect(sender.send('d-1', { type: 'security.anomaly' })).toBe(true);
      const deadline = Date.now() + 5000;
      while (sender.stats.delivered + sender.stats.failed === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Reading the endless body would hold the attempt until its 10 s timeout and count it failed.
      expect(sender.stats).toMatchObject({ attempts: 1, delivered: 1, failed: 0 });
      expect(written).toBeLessThan(256 * 1024 * 1024);
    } finally {
      sender.close();
    }
  });
});
