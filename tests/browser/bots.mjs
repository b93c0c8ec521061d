// bots.mjs - headless and automated browsers are bots (started by
// tests/integration/bots.sh against a real nudged serving the demo shop).
// Headless Chromium as it comes (a "HeadlessChrome" user agent and
// navigator.webdriver true), and a browser that hides its UA but still
// says navigator.webdriver: their beacons are counted as bots, enter no
// funnel step and get no decision.  A person's browser (normal UA,
// webdriver false) on the same pages is counted in the funnel and sees
// the banner: the control.  Env: BASE, NUDGE, AGENT (PUB,CTL), WORK.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const { BASE, NUDGE, AGENT, WORK } = process.env;
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 ' +
	'(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let failures = 0;
const pass = (n) => console.log(`PASS ${n}`);
const fail = (n, why) => { failures++; console.log(`FAIL ${n}: ${why}`); };
const check = (n, ok, why) => (ok ? pass(n) : fail(n, why));

function status() {
	return JSON.parse(execFileSync(NUDGE, ['status', '--json', '--timeout',
		'3000', '--agent', AGENT], { encoding: 'utf8' }));
}
const steps = (s) => s.funnel.steps.map((x) => x.count);

function push(text) {
	const f = `${WORK}/bots.rules`;
	writeFileSync(f, text);
	return JSON.parse(execFileSync(NUDGE, ['rules', 'push', f, '--json',
		'--agent', AGENT], { encoding: 'utf8' }));
}

// A short shopping trip: product page, add to cart, cart page.  Returns
// the decisions the answers carried and what the page said of itself.
async function trip(browser, opts) {
	const ctx = await browser.newContext(opts.ua ? { userAgent: opts.ua } : {});
	if (opts.hideWebdriver)
		await ctx.addInitScript(() => Object.defineProperty(
			Navigator.prototype, 'webdriver', { get: () => false }));
	const page = await ctx.newPage();
	const decisions = [];
	page.on('response', async (r) => {
		if (!r.url().endsWith('/nudge/e')) return;
		try { decisions.push(...((await r.json()).d || [])); } catch (e) {}
	});
	const answer = page.waitForResponse((r) => r.url().endsWith('/nudge/e'),
		{ timeout: 8000 });
	await page.goto(`${BASE}/shop/product/boots.html`);
	await page.waitForFunction(() => window.__nudgeStarted === 1, null,
		{ timeout: 5000 });
	await page.evaluate(() => window.nudge('flush'));
	await answer;
	await page.click('#add-to-cart');
	const a2 = page.waitForResponse((r) => r.url().endsWith('/nudge/e'),
		{ timeout: 8000 });
	await page.evaluate(() => window.nudge('flush'));
	await a2;
	await sleep(300);
	const self = await page.evaluate(() => ({ ua: navigator.userAgent,
		wd: navigator.webdriver,
		banner: !!document.querySelector('.nudge-banner') }));
	await ctx.close();
	return { decisions, self };
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
	args: ['--no-sandbox'] });
try {
	const r = push('rule hello:\n  when page ~ "/product/"\n' +
		'  show banner "hello"\n  at most 100 per session\n');
	check('rule pushed', r.agents[0].ok, JSON.stringify(r));
	const cases = [
		{ name: 'headless Chromium as it comes', opts: {} },
		{ name: 'a normal UA with navigator.webdriver', opts: { ua: UA } },
		{ name: 'a HeadlessChrome UA without webdriver', opts: {
			ua: UA.replace('Chrome/', 'HeadlessChrome/'), hideWebdriver: true } },
	];
	for (const c of cases) {
		const before = status();
		const t = await trip(browser, c.opts);
		await sleep(600);
		const after = status();
		console.log(`# ${c.name}: ua ${JSON.stringify(t.self.ua)} webdriver ${t.self.wd}`);
		check(`${c.name}: its beacons counted as bots`,
			after.bots > before.bots, `bots ${before.bots} -> ${after.bots}`);
		check(`${c.name}: enters no funnel step`,
			JSON.stringify(steps(after)) === JSON.stringify(steps(before)),
			`${steps(before)} -> ${steps(after)}`);
		check(`${c.name}: gets no decision`, t.decisions.length === 0 &&
			!t.self.banner, JSON.stringify(t.decisions));
	}
	// the control: a person
	const before = status();
	const t = await trip(browser, { ua: UA, hideWebdriver: true });
	await sleep(600);
	const after = status();
	check('a person: not a bot', after.bots === before.bots,
		`bots ${before.bots} -> ${after.bots}`);
	check('a person: counted in the funnel (visit, product, cart)',
		steps(after)[0] === steps(before)[0] + 1 &&
		steps(after)[1] === steps(before)[1] + 1 &&
		steps(after)[2] === steps(before)[2] + 1,
		`${steps(before)} -> ${steps(after)}`);
	check('a person: sees the banner', t.self.banner &&
		t.decisions.some((d) => d.id === 'hello'), JSON.stringify(t.decisions));
} catch (e) {
	fail('bots suite', e.stack || String(e));
} finally {
	await browser.close();
}
console.log(failures ? `${failures} failed` : 'all passed');
process.exit(0);
