import { type Server, type Socket, connect, createServer } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web.mjs';
import { ROOT } from './programs.js';

/**
 * The dashboard built from the current sources, as `npm run build` builds it, into a folder of
 * the test run's own (kept between runs and rebuilt only when a source is newer, as
 * `npm start` does with dist/web).
 */
export async function builtDashboard(): Promise<string> {
  const outDir = join(ROOT, 'node_modules/.cache/swarm-control-tests/web');
  await buildWeb({ outDir, ifNeeded: true });
  return outDir;
}

/**
 * A TCP proxy in front of the service: the browser talks to the service through it, and a test
 * can cut the network (every open connection reset, new ones refused) and restore it. The page
 * is served through the proxy too, so it keeps the service's origin and address space.
 */
export interface NetworkCut {
  /** The proxy's base URL (`http://127.0.0.1:<port>`). */
  url: string;
  /** Resets every open connection and refuses new ones until {@link restore}. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function networkProxy(target: { host: string; port: number }): Promise<NetworkCut> {
  const open = new Set<Socket>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) return void client.resetAndDestroy();
    const upstream = connect(target.port, target.host);
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    cut: () => {
      down = true;
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    restore: () => {
      down = false;
    },
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * What axe-core reports as serious or critical on the page, as `rule: target` lines. axe is
 * evaluated through the DevTools protocol, which the page's Content-Security-Policy (no inline
 * script) does not apply to; the page itself runs under its policy.
 */
export async function seriousAccessibilityViolations(page: Page, axeSource: string) {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const { axe, document } = globalThis as unknown as {
      axe: { run: (context: unknown) => Promise<AxeResult> };
      document: unknown;
    };
    const result = await axe.run(document);
    return result.violations
      .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
      .flatMap((violation) =>
        violation.nodes.map((node) => `${violation.id}: ${node.target.join(' ')}`),
      );
  });
}

interface AxeResult {
  violations: Array<{
    id: string;
    impact: string | null;
    nodes: Array<{ target: string[] }>;
  }>;
}
