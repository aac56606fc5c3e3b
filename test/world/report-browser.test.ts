// The HTML report in a real browser: Debian's Chromium, headless, driven by playwright-core,
// opening the file from disk with the network off. Each page is written by `hypstep run
// --report`, and what it shows is checked against the JSON report of the same run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { WorldReport } from '../../src/world/report.js';
import { repoRoot, requireTool } from '../helpers/tools.js';

const ROOT = repoRoot();
const CLI = join(ROOT, 'dist/src/cli/main.js');
const LAYOUT = join(ROOT, 'fixtures/minihyp/vcpu-layout.json');
const minihyp = (mode: string) => join(ROOT, `fixtures/minihyp/build/minihyp-${mode}.elf`);
const HVCLOOP = join(ROOT, 'fixtures/hvcloop/build/hvcloop-10k.elf');
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let dir: string;
let browser: BrowserContext;
const reports = new Map<string, { html: string; json: WorldReport }>();

/** Runs hypstep with `--report` twice (HTML and JSON) and keeps both. */
function report(name: string, args: string[]): void {
  const html = join(dir, `${name}.html`);
  const json = join(dir, `${name}.json`);
  for (const file of [html, json]) {
    const r = spawnSync('node', [CLI, 'run', '--report', file, ...args], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toMatch(/world report written/);
  }
  reports.set(name, { html, json: JSON.parse(readFileSync(json, 'utf8')) as WorldReport });
}

async function open(name: string, width = 1400): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewportSize({ width, height: 1000 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Nothing may be fetched: any request but the file itself fails the test.
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`file://${reports.get(name)!.html}`);
  await page.waitForSelector('html[data-ready]', { timeout: 10_000 });
  expect(errors).toEqual([]);
  expect(requests).toEqual([`file://${reports.get(name)!.html}`]);
  return page;
}

beforeAll(async () => {
  const exe = requireTool('chromium');
  dir = mkdtempSync(join(tmpdir(), 'hypstep-report-browser-'));
  report('vhe', ['--vcpu-layout', LAYOUT, minihyp('vhe-deferred')]);
  report('nvhe', ['--vcpu-layout', LAYOUT, minihyp('nvhe')]);
  report('stale', ['--vcpu-layout', LAYOUT, '--check-residency', minihyp('bug-stale-read')]);
  report('loop', [HVCLOOP]);
  browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: spawnSync('sh', ['-c', `command -v ${exe}`], { encoding: 'utf8' }).stdout.trim(),
    headless: true,
    args: FLAGS,
    offline: true,
  });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const text = (page: Page, sel: string) => page.locator(sel).first().innerText();

/** Scrolls the table to its end and waits (a frame may come late on a busy machine) for its last row. */
async function scrollToEnd(page: Page, last: string): Promise<void> {
  await page.locator('#tbl').evaluate((e) => (e.scrollTop = e.scrollHeight));
  await page.waitForFunction((n) => document.querySelector('#tbody tr:last-child td')?.textContent === n, last, {
    timeout: 10_000,
  });
}

describe('the HTML report in Chromium', () => {
  it('renders the summary with how the guest ended, the legend, the timeline with its axis and the table', async () => {
    const { json } = reports.get('vhe')!;
    const page = await open('vhe');
    expect(await text(page, '#status')).toMatch(/^2,832 exits, 576 loads and puts, 0 hazards/);
    expect(await text(page, '#summary')).toContain(json.guestResult);
    expect(json.guestResult).toMatch(/exit status 0$/);
    // The legend names each reason present, the guest, loads, puts and hazards.
    const keys = await page.locator('#legend .key').allInnerTexts();
    expect(keys.map((k) => k.trim())).toEqual([
      ...Object.keys(json.summary.byReason).sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b)),
      'guest running',
      'vcpu load',
      'vcpu put',
      'hazard',
    ]);
    // Time axis: at least five increasing instruction counts inside the run.
    const ticks = (await page.locator('#tl text.ax').allTextContents()).map((t) => Number(t.replace(/,/g, '')));
    expect(ticks.length).toBeGreaterThanOrEqual(5);
    expect(ticks).toEqual([...ticks].sort((a, b) => a - b));
    expect(ticks[0]!).toBeGreaterThan(0);
    expect(ticks.at(-1)!).toBeLessThanOrEqual(json.icount);
    const png = await page.screenshot({ path: join(dir, 'vhe.png'), fullPage: true });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(50_000);
    await page.close();
  });

  it('draws the legend with the markers’ own colours, and no marker over a row label', async () => {
    const page = await open('vhe');
    const fill = (sel: string) =>
      page
        .locator(sel)
        .first()
        .evaluate((e) => getComputedStyle(e).fill);
    for (const cls of ['load', 'put', 'g']) {
      const marker = await fill(`#tl .${cls}`);
      expect(await fill(`#legend .${cls}`)).toBe(marker);
      expect(marker).not.toBe('rgb(0, 0, 0)');
    }
    // Each reason's swatch has the colour of that reason's exits on the timeline.
    const exitFill = await page.locator('#tl rect[fill]').first().getAttribute('fill');
    const hvcSwatch = await page.locator('#legend .key', { hasText: 'hvc' }).locator('rect').getAttribute('fill');
    expect(exitFill).toBe(hvcSwatch);
    // The topmost element at every point of each label is the label itself, at any zoom.
    for (const zoom of [0, 3]) {
      for (let i = 0; i < zoom; i++) await page.click('#z-in');
      await page.waitForTimeout(50);
      const covered = await page.evaluate(() => {
        const out: string[] = [];
        for (const t of document.querySelectorAll('#tl text.lbl, #tl text.sub')) {
          const r = t.getBoundingClientRect();
          for (let x = r.left + 1; x < r.right; x += 3) {
            const top = document.elementFromPoint(x, r.top + r.height / 2);
            if (top !== t && top?.tagName !== 'svg') out.push(`${t.textContent} under ${top?.outerHTML.slice(0, 60)}`);
          }
        }
        return out;
      });
      expect(covered).toEqual([]);
    }
    await page.close();
  });

  it('cells do not wrap, and the cost columns differ: one on VHE, EL2 and host EL1 apart on nVHE', async () => {
    const vhe = await open('vhe');
    const layout = await vhe.evaluate(() => {
      const cells = [...document.querySelectorAll('#tbody td')] as HTMLElement[];
      return {
        cells: cells.length,
        wrapping: cells.filter((c) => getComputedStyle(c).whiteSpace !== 'nowrap').length,
        heights: [...new Set([...document.querySelectorAll('#tbody tr')].map((r) => (r as HTMLElement).offsetHeight))],
      };
    });
    expect(layout.cells).toBeGreaterThan(100);
    expect(layout.wrapping).toBe(0);
    expect(layout.heights).toEqual([22]);
    const heads = async (p: Page) => (await p.locator('#thead th').allInnerTexts()).map((h) => h.trim());
    expect(await heads(vhe)).toContain('handling insns');
    expect(await heads(vhe)).not.toContain('EL2 insns');
    await vhe.close();
    const nvhe = await open('nvhe');
    const h = await heads(nvhe);
    expect(h).toEqual(expect.arrayContaining(['EL2 insns', 'host EL1 insns', 'guest ran']));
    const first = reports.get('nvhe')!.json.exits[0]!;
    const row = await nvhe.locator('#tbody tr').first().locator('td').allInnerTexts();
    const at = (name: string) => Number(row[h.indexOf(name)]!.replace(/,/g, ''));
    expect([at('EL2 insns'), at('host EL1 insns')]).toEqual([first.el2Insns, first.hostInsns! - first.el2Insns!]);
    expect(at('host EL1 insns')).toBeGreaterThan(0);
    await nvhe.close();
  });

  it('filters by vcpu, vmid and reason give the JSON report’s counts, and every exit is reachable', async () => {
    const { json } = reports.get('vhe')!;
    const page = await open('vhe');
    const count = async () => text(page, '#count');
    const n = (f: (x: WorldReport['exits'][number]) => boolean) => json.exits.filter(f).length.toLocaleString('en-US');
    await page.selectOption('#f-vcpu', 'vcpu1');
    expect(await count()).toBe(`(${n((x) => x.vcpu === 'vcpu1')} of 2,832)`);
    const vcpus = await page.locator('#tbody tr td:nth-child(3)').allInnerTexts();
    expect(new Set(vcpus)).toEqual(new Set(['vcpu1']));
    await page.selectOption('#f-vcpu', '*');
    await page.selectOption('#f-vmid', '1');
    expect(await count()).toBe(`(${n((x) => x.vmid === 1)} of 2,832)`);
    await page.selectOption('#f-cat', 'dabort');
    expect(await count()).toBe(`(${n((x) => x.vmid === 1 && x.category === 'dabort')} of 2,832)`);
    await page.fill('#f-text', 'write');
    expect(await count()).toBe(
      `(${n((x) => x.vmid === 1 && x.category === 'dabort' && /write/.test(x.reason))} of 2,832)`,
    );
    await page.selectOption('#f-vmid', '*');
    await page.selectOption('#f-cat', '*');
    await page.fill('#f-text', '');
    // The last row at the bottom of the scroll, and any row by number.
    await scrollToEnd(page, '2,832');
    await page.fill('#goto', '1500');
    await page.press('#goto', 'Enter');
    await expect.poll(() => page.locator('#tbody tr.on td').first().innerText()).toBe('1,500');
    await page.close();
  });

  it('zooms and pans the timeline, and a click on it finds the exit in the table', async () => {
    const page = await open('vhe');
    const view = async () => text(page, '#view');
    const whole = await view();
    await page.click('#z-in');
    await expect.poll(view).toMatch(/zoomed ×2\.0/); // drawn at the next frame
    const box = (await page.locator('#tl').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + 40);
    for (let i = 0; i < 10; i++) await page.mouse.wheel(0, -100);
    const factor = async () => Number(/×([\d.]+)/.exec(await view())?.[1] ?? 0);
    await expect.poll(factor).toBeGreaterThan(10);
    await page.waitForTimeout(100);
    const zoomed = await view();
    const start = (v: string) => Number(/instructions ([\d,]+)/.exec(v)![1]!.replace(/,/g, ''));
    await page.mouse.move(box.x + box.width / 2, box.y + 40);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 - 300, box.y + 40, { steps: 5 });
    await page.mouse.up();
    await expect.poll(async () => start(await view())).toBeGreaterThan(start(zoomed));
    await page.waitForTimeout(100);
    // At this zoom each exit is drawn alone; clicking one selects its row.
    const exitRect = page.locator('#tl rect[data-i]').nth(2);
    const i = Number(await exitRect.getAttribute('data-i'));
    const r = (await exitRect.boundingBox())!;
    await page.mouse.click(r.x + r.width / 2, r.y + r.height / 2);
    await expect.poll(() => page.locator('#tbody tr.on').getAttribute('data-i')).toBe(String(i));
    await page.click('#z-fit');
    await expect.poll(view).toBe(whole);
    await page.close();
  });

  it('shows residency hazards in the list and on the timeline', async () => {
    const { json } = reports.get('stale')!;
    const page = await open('stale');
    expect(json.hazards.length).toBeGreaterThan(0);
    expect(await page.locator('#hz li').count()).toBe(json.hazards.length);
    expect(await text(page, '#hz li')).toContain(json.hazards[0]!.message);
    expect(await page.locator('#tl line.hz').count()).toBeGreaterThan(0);
    await page.close();
  });

  it('a report of 10,000 exits paints in under a second and stays responsive', async () => {
    const page = await open('loop');
    // The paint entry is queued after the paint itself: wait for it rather than read it too early
    // (its startTime counts from navigation, so a late read does not inflate it).
    const t = await page.evaluate(async () => ({
      fcp: await new Promise<number>((res) =>
        new PerformanceObserver((l) => {
          const e = l.getEntriesByName('first-contentful-paint')[0];
          if (e !== undefined) res(e.startTime);
        }).observe({ type: 'paint', buffered: true }),
      ),
      ready: Number(document.documentElement.getAttribute('data-ready')),
    }));
    expect(t.fcp).toBeLessThan(1000);
    expect(t.ready).toBeLessThan(1000);
    expect(await text(page, '#count')).toBe('(10,000)');
    // A filter, a zoom and a scroll each finish well within a frame budget a person notices.
    const timed = (f: () => number) => page.evaluate(f);
    const filter = await timed(() => {
      const t0 = performance.now();
      const s = document.getElementById('f-text') as HTMLInputElement;
      s.value = 'HVC #0x1';
      s.dispatchEvent(new Event('input'));
      return performance.now() - t0;
    });
    expect(await text(page, '#count')).toBe('(1 of 10,000)');
    const zoom = await timed(() => {
      const t0 = performance.now();
      (document.getElementById('z-in') as HTMLButtonElement).click();
      return performance.now() - t0;
    });
    expect([filter, zoom].every((ms) => ms < 300)).toBe(true);
    await page.fill('#f-text', '');
    await scrollToEnd(page, '10,000');
    await page.close();
  });
});

const ORDER = ['hvc', 'smc', 'sysreg', 'dabort', 'iabort', 'wfi', 'wfe', 'fp', 'irq', 'fiq', 'serror', 'other'];
