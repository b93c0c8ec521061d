// tag.mjs - the nudge tag in headless Chromium against a real nudged that
// serves the demo shop (started by tests/integration/browser.sh).
// Env: BASE (http://127.0.0.1:PORT), NUDGE (the nudge CLI), PUB (the
// agent's PUB URL), XSS (the banner text the agent's test_decisions send).
// Prints "PASS name" / "FAIL name: why" per check; exits 0 unless it could
// not run at all.
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';

const BASE = process.env.BASE;
const NUDGE = process.env.NUDGE;
const PUB = process.env.PUB;
const XSS = process.env.XSS;
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 ' +
	'(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
// Playwright's browser says navigator.webdriver: the tag reports that as a
// bot (tested below), so the other contexts look like a person's browser.
const HUMAN = () => {
	Object.defineProperty(Navigator.prototype, 'webdriver',
		{ get: () => false });
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let failures = 0;
const pass = (n) => console.log(`PASS ${n}`);
const fail = (n, why) => { failures++; console.log(`FAIL ${n}: ${why}`); };

function status() {
	const out = execFileSync(NUDGE, ['status', '--json', '--timeout', '3000',
		'--agent', PUB], { encoding: 'utf8' });
	return JSON.parse(out);
}
const counter = (s, name) => (s.counters && s.counters[name]) || 0;

// Polls the agent until pred(status) holds (the snapshot period is short).
async function until(pred, ms = 6000) {
	const end = Date.now() + ms;
	let s;
	do {
		s = status();
		if (pred(s)) return s;
		await sleep(200);
	} while (Date.now() < end);
	return null;
}

async function health() {
	const r = await fetch(`${BASE}/nudge/health`);
	return r.json();
}

async function context(browser, init = []) {
	const ctx = await browser.newContext({ userAgent: UA });
	await ctx.addInitScript(HUMAN);
	for (const f of init) await ctx.addInitScript(f);
	return ctx;
}

// Counts the page's beacons; resolves the next answered one on demand.
function beacons(page) {
	const b = { sent: 0 };
	page.on('request', (rq) => {
		if (rq.url().endsWith('/nudge/e')) b.sent++;
	});
	b.next = () => page.waitForResponse((r) => r.url().endsWith('/nudge/e'),
		{ timeout: 5000 });
	return b;
}

async function started(page) {
	await page.waitForFunction(() => window.__nudgeStarted === 1,
		null, { timeout: 5000 });
}

async function flush(page) {
	await page.evaluate(() => window.nudge('flush'));
}

async function checkPageviews(browser) {
	const before = counter(status(), 'type.pageview');
	const ctx = await context(browser);
	const page = await ctx.newPage();
	const b = beacons(page);
	await page.goto(`${BASE}/shop/index.html`);
	await started(page);
	const answer = b.next();
	await flush(page);
	const res = await answer;
	if (res.status() !== 200)
		fail('tag loads and sends', `beacon answered ${res.status()}`);
	const s = await until((x) => counter(x, 'type.pageview') >= before + 1);
	if (s) pass('tag loads, page view reaches the agent');
	else fail('tag loads, page view reaches the agent', 'counter unchanged');

	const spaAnswer = b.next();
	await page.evaluate(() => history.pushState({}, '', '/shop/spa/step-2'));
	await flush(page);
	await spaAnswer;
	if (await until((x) => counter(x, 'type.pageview') >= before + 2))
		pass('SPA pushState counts as a page view');
	else fail('SPA pushState counts as a page view', 'counter unchanged');

	const tag = await page.evaluate(async () => {
		const r = await fetch('/nudge/nudge.js');
		return { cc: r.headers.get('cache-control'), etag: r.headers.get('etag') };
	});
	if (tag.etag && /max-age/.test(tag.cc || '')) pass('tag is cacheable (ETag, max-age)');
	else fail('tag is cacheable (ETag, max-age)', JSON.stringify(tag));
	await ctx.close();
}

async function checkInteractions(browser) {
	const s0 = status();
	const ctx = await context(browser);
	const page = await ctx.newPage();
	const b = beacons(page);
	await page.goto(`${BASE}/shop/product/boots.html`);
	await started(page);
	await page.hover('.price');
	await page.click('#add-to-cart');
	// exit intent: the pointer leaves through the top of the window, twice
	await page.evaluate(() => {
		for (let i = 0; i < 2; i++)
			document.dispatchEvent(new MouseEvent('mouseout',
				{ clientX: 50, clientY: -1, relatedTarget: null, bubbles: true }));
	});
	const answer = b.next();
	await flush(page);
	await answer;
	const want = { 'type.click': 1, 'type.add_to_cart': 1, 'type.hover': 1,
		'type.exit_intent': 1 };
	const s = await until((x) => Object.keys(want).every(
		(k) => counter(x, k) >= counter(s0, k) + want[k]));
	if (s) pass('click, add_to_cart, hover and exit intent reach the agent');
	else fail('click, add_to_cart, hover and exit intent reach the agent',
		JSON.stringify(Object.keys(want).map((k) => [k, counter(status(), k) - counter(s0, k)])));
	await sleep(300);
	const s2 = status();
	if (counter(s2, 'type.exit_intent') === counter(s0, 'type.exit_intent') + 1)
		pass('exit intent reported once per page');
	else fail('exit intent reported once per page',
		`${counter(s2, 'type.exit_intent') - counter(s0, 'type.exit_intent')} reported`);
	await ctx.close();
}

// Nothing at all may leave the page: no beacon, no counter moves.
async function checkSilent(browser, name, init) {
	const before = status().events;
	const ctx = await context(browser, [init]);
	const page = await ctx.newPage();
	const b = beacons(page);
	await page.goto(`${BASE}/shop/product/scarf.html`);
	await started(page);
	await page.click('#add-to-cart');
	await flush(page);
	await page.goto(`${BASE}/shop/cart.html`);
	await sleep(1500);
	const after = status().events;
	const cookie = (await ctx.cookies()).some((c) => c.name === 'nudge_vid');
	if (b.sent === 0 && after === before && !cookie) pass(`${name}: nothing sent`);
	else fail(`${name}: nothing sent`, `${b.sent} beacons, events ${before} -> ${after}, cookie ${cookie}`);
	await ctx.close();
}

async function checkConsent(browser) {
	const before = counter(status(), 'type.pageview');
	const ctx = await context(browser, [() => { window.nudgeConsentRequired = true; }]);
	const page = await ctx.newPage();
	const b = beacons(page);
	await page.goto(`${BASE}/shop/index.html`);
	await started(page);
	await flush(page);
	await sleep(1300);
	if (b.sent === 0) pass('consent required: nothing sent before consent');
	else fail('consent required: nothing sent before consent', `${b.sent} beacons`);
	const answer = b.next();
	await page.evaluate(() => window.nudge('consent', true));
	await flush(page);
	await answer;
	if (await until((x) => counter(x, 'type.pageview') >= before + 1))
		pass('consent given: events flow');
	else fail('consent given: events flow', 'no page view counted');
	await ctx.close();
}

async function checkBot(browser) {
	const before = (await health()).bot_beacons;
	const ctx = await browser.newContext({ userAgent: UA }); // webdriver stays on
	const page = await ctx.newPage();
	const b = beacons(page);
	await page.goto(`${BASE}/shop/index.html`);
	await started(page);
	const answer = b.next();
	await flush(page);
	const body = await (await answer).json();
	const h = await health();
	if (h.bot_beacons === before + 1 && body.d.length === 0)
		pass('navigator.webdriver: counted as a bot, no decisions');
	else fail('navigator.webdriver: counted as a bot, no decisions',
		`bot_beacons ${before} -> ${h.bot_beacons}, ${body.d.length} decisions`);
	await ctx.close();
}

async function checkDecisions(browser) {
	const ctx = await context(browser);
	const page = await ctx.newPage();
	const b = beacons(page);
	await page.goto(`${BASE}/shop/cart.html`);
	await started(page);
	const hidden = await page.isHidden('#promo-code');
	const answer = b.next();
	await flush(page);
	await answer;
	try {
		await page.waitForSelector('.nudge-banner', { timeout: 3000 });
	} catch (e) { /* reported below */ }
	await sleep(500); // room for an onerror handler to run, if one got in
	const r = await page.evaluate(() => {
		const el = document.querySelector('.nudge-banner');
		return {
			xss: typeof window.__xss,
			text: el ? el.firstChild.textContent : null,
			imgs: document.querySelectorAll('.nudge-banner img, .nudge-banner script').length,
		};
	});
	if (r.text === XSS && r.xss === 'undefined' && r.imgs === 0)
		pass('banner text is rendered as text, no script runs');
	else fail('banner text is rendered as text, no script runs', JSON.stringify(r));
	const shown = await page.isVisible('#promo-code');
	if (hidden && shown) pass('coupon field hidden by default, shown by a coupon decision');
	else fail('coupon field hidden by default, shown by a coupon decision',
		`hidden at load ${hidden}, visible after ${shown}`);
	await ctx.close();
}

async function main() {
	const browser = await chromium.launch({
		executablePath: '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
			'--no-first-run', '--disable-background-networking',
			'--disable-component-update', '--disable-sync'],
	});
	const checks = [
		() => checkPageviews(browser),
		() => checkInteractions(browser),
		() => checkSilent(browser, 'DNT', () => {
			Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1' });
		}),
		() => checkSilent(browser, 'GPC', () => {
			Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true });
		}),
		() => checkConsent(browser),
		() => checkBot(browser),
		() => checkDecisions(browser),
	];
	for (const c of checks) {
		try {
			await c();
		} catch (e) {
			fail('browser check', String(e && e.stack || e).split('\n').slice(0, 3).join(' | '));
		}
	}
	await browser.close();
	console.log(`browser checks done, ${failures} failed`);
}

main().catch((e) => { console.log(`FAIL browser: ${e}`); process.exit(1); });
