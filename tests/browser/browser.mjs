// Launches Debian's Chromium headless through playwright-core, for the dashboard's browser tests.
//
// The browser is the system one (`/usr/bin/chromium`, installed by scripts/setup-services.sh, or
// the path in UPSHIFT_CHROMIUM); Playwright's own browser download is never used. The flags turn
// off Chromium's background networking (component updates, sync, QUIC, first-run fetches): on a
// closed network those otherwise show up as refused connections and noise in the logs.
import { chromium } from 'playwright-core';

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches headless Chromium; the caller closes the returned Browser. */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.UPSHIFT_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ARGS,
  });
}

/**
 * Pushes into `sink` (an array) a string for every console message of type 'error' and every
 * uncaught page error of `page`, each with the URL of the page it came from.
 */
export function watchConsole(page, sink) {
  page.on('console', (message) => {
    if (message.type() === 'error') {
      sink.push(`console error at ${page.url()}: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => {
    sink.push(`page error at ${page.url()}: ${error.message}`);
  });
}
