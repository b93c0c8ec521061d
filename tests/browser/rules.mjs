// rules.mjs - live rules seen from headless Chromium (started by
// tests/integration/browser_rules.sh against a real nudged serving the
// demo shop).  A rule pushed with `nudge rules push` changes what the next
// page view shows, without restarting the agent; a foreign visitor gets
// its banner, with a <script> in the text shown as text; exit intent opens
// the email capture once and never again within its cap, also after a
// reload; the coupon field appears only for a visitor who came from a
// coupon campaign; a hover rule's selector is watched and its hover
// fires the rule; a click lands in the agent's heatmap on the right page
// and cell.  Env: BASE, NUDGE, AGENT (PUB,CTL), DB (the agent's SQLite
// file), WORK (a scratch dir).  Prints PASS/FAIL lines.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const { BASE, NUDGE, AGENT, DB, WORK } = process.env;
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 ' +
	'(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const HUMAN = () => {
	Object.defineProperty(Navigator.prototype, 'webdriver',
		{ get: () => false });
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let failures = 0;
const pass = (n) => console.log(`PASS ${n}`);
const fail = (n, why) => { failures++; console.log(`FAIL ${n}: ${why}`); };
const check = (n, ok, why) => (ok ? pass(n) : fail(n, why));

const SCRIPT = '<script>window.__xss=1</script>';
function rules(greeting) {
	return `rule foreign:
  when country != "FR" and country != "" and page ~ "/product/"
  show banner "${greeting} {country} ${SCRIPT}"
  at most 100 per session

rule exit_email:
  when event == "exit_intent"
  capture email "Leaving already?"
  at most 1 per 7 days

rule promo_hover:
  when event == "hover" and target ~ ".promo-badge"
  show message "The badge is real"
  at most 100 per session

rule coupon_field:
  when source == "coupon" or utm.campaign ~ "coupon"
  show coupon "#promo-code"
  at most 100 per session
`;
}

function push(text) {
	const f = `${WORK}/live.rules`;
	writeFileSync(f, text);
	const out = execFileSync(NUDGE, ['rules', 'push', f, '--json',
		'--agent', AGENT], { encoding: 'utf8' });
	return JSON.parse(out);
}

async function context(browser, country) {
	const ctx = await browser.newContext({ userAgent: UA,
		extraHTTPHeaders: country ? { 'X-Country': country } : {} });
	await ctx.addInitScript(HUMAN);
	return ctx;
}

async function started(page) {
	await page.waitForFunction(() => window.__nudgeStarted === 1,
		null, { timeout: 5000 });
}

// Flushes the tag's queue and waits for the answer to be applied.
async function exchange(page) {
	const answer = page.waitForResponse((r) => r.url().endsWith('/nudge/e'),
		{ timeout: 5000 });
	await page.evaluate(() => window.nudge('flush'));
	const r = await answer;
	await sleep(200);
	return r.json();
}

// Opens url and waits for the answer to its first beacon, however early
// the tag sends it.
async function visit(page, url) {
	const answer = page.waitForResponse((r) => r.url().endsWith('/nudge/e'),
		{ timeout: 8000 });
	await page.goto(url);
	await started(page);
	await page.evaluate(() => window.nudge('flush'));
	const r = await answer;
	await sleep(200);
	return r.json();
}

async function bannerText(page) {
	return page.evaluate(() => {
		const el = document.querySelector('.nudge-banner');
		return el ? el.firstChild.textContent : null;
	});
}

async function checkLiveChange(browser) {
	const a = push(rules('We deliver to'));
	check('push v1 acknowledged', a.agents[0].ok, JSON.stringify(a));
	const ctx = await context(browser, 'DE');
	const page = await ctx.newPage();
	await page.goto(`${BASE}/shop/product/boots.html`);
	await started(page);
	await exchange(page);
	const t1 = await bannerText(page);
	check('foreign visitor sees the banner', t1 !== null &&
		t1.startsWith('We deliver to DE'), `banner ${JSON.stringify(t1)}`);
	const xss = await page.evaluate(() => ({
		ran: typeof window.__xss,
		scripts: document.querySelectorAll('.nudge-banner script').length,
	}));
	check('the <script> in the rule text is shown as text',
		t1 !== null && t1.includes(SCRIPT) && xss.ran === 'undefined' &&
		xss.scripts === 0, JSON.stringify({ t1, xss }));
	const b = push(rules('Now shipping to'));
	check('push v2 acknowledged', b.agents[0].ok &&
		b.agents[0].version === a.agents[0].version + 1, JSON.stringify(b));
	await page.goto(`${BASE}/shop/product/gloves.html`);
	await started(page);
	await exchange(page);
	const t2 = await bannerText(page);
	check('the next page view shows the pushed rule, no restart',
		t2 !== null && t2.startsWith('Now shipping to DE'),
		`banner ${JSON.stringify(t2)}`);
	await ctx.close();
	const fr = await context(browser, 'FR');
	const p2 = await fr.newPage();
	await p2.goto(`${BASE}/shop/product/boots.html`);
	await started(p2);
	await exchange(p2);
	check('a visitor from FR sees no delivery banner',
		(await bannerText(p2)) === null, 'banner shown');
	await fr.close();
}

async function exitIntent(page) {
	await page.evaluate(() => document.dispatchEvent(new MouseEvent(
		'mouseout', { clientX: 50, clientY: -1, relatedTarget: null,
			bubbles: true })));
	return exchange(page);
}

async function checkExitEmail(browser) {
	const ctx = await context(browser, 'DE');
	const page = await ctx.newPage();
	await page.goto(`${BASE}/shop/cart.html`);
	await started(page);
	await exchange(page);
	const first = await exitIntent(page);
	const shown = await page.isVisible('.nudge-email');
	check('exit intent opens the email capture', shown &&
		first.d.some((d) => d.kind === 'email'), JSON.stringify(first));
	await page.reload();
	await started(page);
	await exchange(page);
	const again = await exitIntent(page);
	check('never again within its cap, also after a reload',
		!again.d.some((d) => d.kind === 'email') &&
		!(await page.isVisible('.nudge-email')), JSON.stringify(again));
	await ctx.close();
}

async function checkCoupon(browser) {
	const ctx = await context(browser, 'DE');
	const page = await ctx.newPage();
	await page.goto(`${BASE}/shop/cart.html`);
	await started(page);
	await exchange(page);
	check('no coupon field for a direct visitor',
		await page.isHidden('#promo-code'), 'shown');
	await ctx.close();
	const c2 = await context(browser, 'DE');
	const p2 = await c2.newPage();
	await visit(p2, `${BASE}/shop/cart.html?utm_source=dealsite&` +
		'utm_medium=referral&utm_campaign=coupon_spring');
	check('coupon field for a visitor from a coupon campaign',
		await p2.isVisible('#promo-code'), 'hidden');
	await c2.close();
}

// The answer's "w" comes from the rules: a hover rule on .promo-badge
// makes the tag watch it, and the hover reaches the agent and fires.
async function checkWatch(browser) {
	const ctx = await context(browser, 'FR');
	const page = await ctx.newPage();
	const first = await visit(page, `${BASE}/shop/product/scarf.html`);
	check('the answer carries the rules\' watch list',
		Array.isArray(first.w) && first.w.includes('.promo-badge'),
		JSON.stringify(first));
	await page.hover('.promo-badge');
	const r = await exchange(page);
	const msg = await page.evaluate(() => document.body.innerText);
	check('a hover on a watched element fires its rule',
		r.d.some((d) => d.id === 'promo_hover' && d.kind === 'message') &&
		msg.includes('The badge is real'), JSON.stringify(r));
	await ctx.close();
}

function heatCount(page, cell) {
	const q = `SELECT coalesce(sum(count), 0) FROM heat WHERE page = '${page}'` +
		` AND kind = 0 AND cell = ${cell}`;
	return Number(execFileSync('sqlite3', [DB, q], { encoding: 'utf8' }).trim());
}

async function checkHeat(browser) {
	const ctx = await context(browser, 'DE');
	const page = await ctx.newPage();
	await page.goto(`${BASE}/shop/product/hat.html`);
	await started(page);
	const box = await page.locator('#add-to-cart').boundingBox();
	const x = box.x + 2, y = box.y + 2;
	const cell = await page.evaluate(([cx, cy]) => {
		const e = document.documentElement, b = document.body;
		const w = Math.max(e.scrollWidth, b.scrollWidth, 1);
		const h = Math.max(e.scrollHeight, b.scrollHeight, 1);
		const px = Math.floor((cx + window.scrollX) / w * 1000);
		const py = Math.floor((cy + window.scrollY) / h * 1000);
		return Math.floor(py * 48 / 1000) * 24 + Math.floor(px * 24 / 1000);
	}, [x, y]);
	const path = '/shop/product/hat.html';
	const before = heatCount(path, cell);
	await page.mouse.click(x, y);
	await exchange(page);
	let after = before;
	for (let i = 0; i < 30 && after === before; i++) {
		await sleep(200);
		after = heatCount(path, cell);
	}
	check('a click lands in the heatmap on its page and cell',
		after === before + 1, `cell ${cell}: ${before} -> ${after}`);
	await ctx.close();
}

async function main() {
	const browser = await chromium.launch({
		executablePath: '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
			'--no-first-run', '--disable-background-networking',
			'--disable-component-update', '--disable-sync'],
	});
	for (const c of [checkLiveChange, checkWatch, checkExitEmail, checkCoupon,
		checkHeat]) {
		try {
			await c(browser);
		} catch (e) {
			fail(c.name, String(e && e.stack || e).split('\n').slice(0, 3).join(' | '));
		}
	}
	await browser.close();
	console.log(`rules browser checks done, ${failures} failed`);
}

main().catch((e) => { console.log(`FAIL browser: ${e}`); process.exit(1); });
