// xss.mjs - known XSS vectors pushed to a real nudged and rendered by the
// tag in headless Chromium (started by tests/integration/xss.sh).  Vectors
// go in as rule texts (banner, message, popup, email capture), as
// visitor-controlled values filling {holes} (utm_campaign, page), as CSS
// selectors (show/hide/shake/coupon, hover watch lists) and as operator
// one-off messages (`nudge message`).  For each: nothing ran (no
// window.__pwned, no dialog, no script/img/svg/iframe/... element added to
// the page, no navigation), and the text shows verbatim as text.
// Env: BASE, NUDGE, AGENT (PUB,CTL), WORK.  Prints PASS/FAIL lines.
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

// Each vector sets window.__pwned to its own number if it ever runs (or
// calls alert, caught as a dialog).
const VECTORS = [
	'<script>window.__pwned=1</script>',
	'<img src=x onerror="window.__pwned=2">',
	'<svg onload=window.__pwned=3>',
	'<svg><script>window.__pwned=4</script></svg>',
	'<a href="javascript:window.__pwned=5">click me</a>',
	'javascript:window.__pwned=6',
	'<iframe src="javascript:window.__pwned=7"></iframe>',
	'<body onload=window.__pwned=8>',
	'<div onmouseover="window.__pwned=9">hover</div>',
	'"><script>window.__pwned=10</script>',
	"'><img src=x onerror=window.__pwned=11>",
	'</script><script>window.__pwned=12</script>',
	'</span></div><img src=x onerror=window.__pwned=13>',
	'&lt;script&gt;window.__pwned=14&lt;/script&gt;',
	'&#60;img src=x onerror=window.__pwned=15&#62;',
	'\\u003cscript\\u003ewindow.__pwned=16\\u003c/script\\u003e',
	'\\x3cimg src=x onerror=window.__pwned=17\\x3e',
	'${window.__pwned=18}',
	"{{constructor.constructor('window.__pwned=19')()}}",
	'<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=20>',
	'<details open ontoggle=window.__pwned=21>',
	'<input autofocus onfocus=window.__pwned=22>',
	"<style>@import 'javascript:window.__pwned=23';</style>",
	'<object data="data:text/html,<script>parent.__pwned=24</script>">',
	'<marquee onstart=window.__pwned=25>x</marquee>',
	'<!--<img src="--><img src=x onerror=window.__pwned=26//">',
	'<scr<script>ipt>window.__pwned=27</scr</script>ipt>',
	'<IMG SRC=JaVaScRiPt:window.__pwned=28>',
	'<video><source onerror="window.__pwned=29">',
	'<base href="javascript:window.__pwned=30//">',
	'<meta http-equiv="refresh" content="0;url=javascript:window.__pwned=31">',
	'"; window.__pwned=32; //',
	'\\"}]});window.__pwned=33;//',
	'\uff1cscript\uff1ewindow.__pwned=34\uff1c/script\uff1e',
	'x\u2028window.__pwned=35\u2029y',
	'<noscript><p title="</noscript><img src=x onerror=window.__pwned=36>">',
	'<form><button formaction=javascript:window.__pwned=37>go</button></form>',
	'<img src=x onerror=alert(38)>',
	'\u202e<svg/onload=window.__pwned=39>',
	'%3Cscript%3Ewindow.__pwned=40%3C/script%3E',
];

// A literal text in the rule language: \ and " escaped, braces doubled.
const ruleStr = (s) => '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')
	.replace(/\{/g, '{{').replace(/\}/g, '}}') + '"';

const KINDS = ['banner', 'message', 'popup', 'email'];
function action(kind, i, text) {
	if (kind === 'popup') return `show popup "p${i}" ${text}`;
	if (kind === 'email') return `capture email ${text}`;
	return `show ${kind} ${text}`;
}

const BATCH = 8;
function textRules() {
	let out = '';
	VECTORS.forEach((v, i) => {
		out += `rule x${i}:\n  when utm.campaign == "b${Math.floor(i / BATCH)}"` +
			` and event == "pageview"\n  ${action(KINDS[i % 4], i, ruleStr(v))}\n` +
			'  at most 100 per session\n\n';
	});
	// visitor-controlled values in holes
	out += 'rule hole_utm:\n  when utm.source == "hole"\n' +
		'  show banner "C:{utm.campaign}"\n  at most 100 per session\n\n';
	out += 'rule hole_page:\n  when utm.source == "hole"\n' +
		'  show message "P:{page}"\n  at most 100 per session\n\n';
	// hostile but accepted selectors, next to a text decision that must
	// still render; and a hover watch selector that is no valid selector
	out += 'rule sel_bad:\n  when utm.source == "sel"\n  hide element "#a[\')]x;window.__pwned=50//"\n' +
		'  at most 100 per session\n\n';
	out += 'rule sel_shake:\n  when utm.source == "sel"\n  shake ":not(\'x\'),a[href^=javascript]"\n' +
		'  at most 100 per session\n\n';
	out += 'rule sel_coupon:\n  when utm.source == "sel"\n  show coupon "img[src=x]:not(:has(*))"\n' +
		'  at most 100 per session\n\n';
	out += 'rule sel_text:\n  when utm.source == "sel"\n  show banner "still here"\n' +
		'  at most 100 per session\n\n';
	return out;
}

function push(text, name) {
	const f = `${WORK}/${name}.rules`;
	writeFileSync(f, text);
	try {
		const out = execFileSync(NUDGE, ['rules', 'push', f, '--json',
			'--agent', AGENT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
		return JSON.parse(out);
	} catch (e) {
		return { error: String(e.stdout || '') + String(e.stderr || '') };
	}
}

// Records anything that could run code, added after the page loaded.
const WATCHER = () => {
	window.__added = [];
	window.__dialogs = 0;
	const risky = /^(SCRIPT|IMG|SVG|IFRAME|OBJECT|EMBED|BASE|META|LINK|STYLE|A|VIDEO|AUDIO|SOURCE|MATH|DETAILS|MARQUEE|NOSCRIPT|BODY|FRAME)$/i;
	const note = (n) => {
		if (n.nodeType !== 1) return;
		const inNudge = n.closest && n.closest('[class^="nudge-"]');
		const tag = n.tagName.toUpperCase();
		// the tag adds one <style> for its shake animation: allowed
		if (tag === 'STYLE' && n.textContent.startsWith('@keyframes nudge-shake')) return;
		if (risky.test(tag) || (inNudge && !/^(DIV|SPAN|BUTTON|FORM|INPUT|LABEL)$/.test(tag)))
			window.__added.push(tag);
		for (const a of n.attributes || [])
			if (/^on/i.test(a.name) || /javascript:/i.test(a.value))
				window.__added.push(`${tag}[${a.name}]`);
		n.querySelectorAll && n.querySelectorAll('*').forEach(note);
	};
	// an attribute changed on an element already there: show, hide,
	// shake and coupon change style, class and hidden (of every element,
	// with the selector "*"); any other on a risky element, or a handler
	// or a javascript: URL on any, is noted
	const noteAttr = (n, name) => {
		const tag = n.tagName.toUpperCase();
		if (/^on/i.test(name) || /javascript:/i.test(n.getAttribute(name) || '') ||
			(risky.test(tag) && !/^(style|class|hidden)$/i.test(name)))
			window.__added.push(`${tag}[${name}]`);
	};
	document.addEventListener('DOMContentLoaded', () => {
		new MutationObserver((ms) => ms.forEach((m) => {
			m.addedNodes.forEach(note);
			if (m.type === 'attributes') noteAttr(m.target, m.attributeName);
		})).observe(document.documentElement, { childList: true,
			subtree: true, attributes: true });
	});
};

async function newPage(browser) {
	const ctx = await browser.newContext({ userAgent: UA,
		extraHTTPHeaders: { 'X-Country': 'DE' } });
	await ctx.addInitScript(() => {
		Object.defineProperty(Navigator.prototype, 'webdriver',
			{ get: () => false });
	});
	await ctx.addInitScript(WATCHER);
	const page = await ctx.newPage();
	page.__dialogs = [];
	page.on('dialog', async (d) => { page.__dialogs.push(d.message()); await d.dismiss(); });
	return { ctx, page };
}

// Opens url and waits for the answer to its first beacon.
async function visit(page, url) {
	const answer = page.waitForResponse((r) => r.url().endsWith('/nudge/e'),
		{ timeout: 10000 });
	await page.goto(url);
	await page.waitForFunction(() => window.__nudgeStarted === 1, null,
		{ timeout: 8000 });
	await page.evaluate(() => window.nudge('flush'));
	const r = await answer;
	await sleep(300);
	return r.json();
}

// Flushes one custom event and waits for the answer to be applied.
async function exchange(page) {
	const answer = page.waitForResponse((r) => r.url().endsWith('/nudge/e'),
		{ timeout: 10000 });
	await page.evaluate(() => { window.nudge('track', 'ping'); window.nudge('flush'); });
	const r = await answer;
	await sleep(300);
	return r.json();
}

// The decisions of every beacon answer while fn runs: the tag may send
// the page view of a navigation on its own before exchange()'s beacon,
// and an operator message goes out once, with whichever answer is first.
async function decisionsDuring(page, fn) {
	const answers = [];
	const seen = (r) => {
		if (r.url().endsWith('/nudge/e'))
			answers.push(r.json().catch(() => ({})));
	};
	page.on('response', seen);
	try {
		await fn();
	} finally {
		page.off('response', seen);
	}
	return (await Promise.all(answers)).flatMap((a) => a.d || []);
}

async function nothingRan(page, name, url) {
	const st = await page.evaluate(() => ({ pwned: window.__pwned,
		added: window.__added, href: location.href }));
	const ok = st.pwned === undefined && st.added.length === 0 &&
		page.__dialogs.length === 0 && (!url || st.href === url);
	check(`${name}: nothing executed`, ok, JSON.stringify({ ...st,
		dialogs: page.__dialogs }));
}

// The visible text of the newest decision box with data-nudge-id id and
// kind.
async function boxText(page, id, kind) {
	return page.evaluate(([i, k]) => {
		const b = [...document.querySelectorAll(`.nudge-${k}`)]
			.filter((e) => e.getAttribute('data-nudge-id') === i).pop();
		if (!b) return null;
		const span = b.querySelector('span');
		return span ? span.textContent : null;
	}, [id, kind]);
}

async function checkTexts(browser) {
	const a = push(textRules(), 'xss');
	check('rules with the vectors accepted', a.agents && a.agents[0].ok,
		JSON.stringify(a).slice(0, 400));
	const nb = Math.ceil(VECTORS.length / BATCH);
	for (let b = 0; b < nb; b++) {
		const { ctx, page } = await newPage(browser);
		const url = `${BASE}/shop/product/boots.html?utm_campaign=b${b}`;
		const ans = await visit(page, url);
		const ds = Array.isArray(ans.d) ? ans.d : [];
		for (let i = b * BATCH; i < Math.min(VECTORS.length, (b + 1) * BATCH); i++) {
			const kind = KINDS[i % 4];
			const d = ds.find((x) => x.kind === kind && x.text === VECTORS[i]);
			const t = d ? await boxText(page, d.id, kind) : null;
			check(`vector ${i + 1} as ${kind}: shown verbatim as text`,
				t === VECTORS[i], JSON.stringify({ want: VECTORS[i], got: t,
					answer: ds.filter((x) => x.kind === kind).map((x) => x.text) }));
		}
		await nothingRan(page, `batch ${b}`, url);
		await ctx.close();
	}
}

// {page} shows the page as the agent keeps it (its path): the box shows
// the answer's text verbatim, and that text is the visitor's own path.
async function pageHole(page, ans, name) {
	const d = (ans.d || []).find((x) => x.id === 'hole_page');
	const p = await boxText(page, 'hole_page', 'message');
	const path = await page.evaluate(() => location.pathname);
	check(`${name}: verbatim text`, d && p === d.text &&
		d.text.startsWith('P:' + path), JSON.stringify({ got: p,
		answer: d && d.text, path }));
}

const HOLES = [
	'<script>window.__pwned=60</script>',
	'"><img src=x onerror=window.__pwned=61>',
	'<svg onload=window.__pwned=62>',
	'{country}',
	'{{page}}',
	'${window.__pwned=63}',
	'</script><script>window.__pwned=64</script>',
	'javascript:window.__pwned=65',
	'\\u003cimg src=x onerror=window.__pwned=66\\u003e',
];

async function checkHoles(browser) {
	for (let i = 0; i < HOLES.length; i++) {
		const { ctx, page } = await newPage(browser);
		const url = `${BASE}/shop/product/boots.html?utm_source=hole&utm_campaign=` +
			encodeURIComponent(HOLES[i]);
		const ans = await visit(page, url);
		const t = await boxText(page, 'hole_utm', 'banner');
		check(`utm_campaign ${JSON.stringify(HOLES[i])} in {utm.campaign}: verbatim text`,
			t === `C:${HOLES[i]}`, `got ${JSON.stringify(t)}`);
		await pageHole(page, ans, `the same URL in {page}`);
		await nothingRan(page, `hole ${i + 1}`, url);
		await ctx.close();
	}
	// a hostile path (not only the query) through pushState
	const { ctx, page } = await newPage(browser);
	await visit(page, `${BASE}/shop/product/boots.html?utm_source=hole`);
	const answer = page.waitForResponse((r) => r.url().endsWith('/nudge/e'),
		{ timeout: 10000 });
	await page.evaluate(() => {
		history.pushState({}, '', '/shop/"><img src=x onerror=window.__pwned=67>');
		window.nudge('flush');
	});
	const ans = await (await answer).json();
	await sleep(300);
	await pageHole(page, ans, 'a pushState path in {page}');
	await nothingRan(page, 'pushState path');
	await ctx.close();
}

async function checkSelectors(browser) {
	// selectors the rule language refuses outright
	const refused = ['<img src=x onerror=window.__pwned=70>', 'a"b',
		'#{page}', 'x\\"]'];
	for (const s of refused) {
		const r = push(`rule s:\n  when page ~ "/"\n  show coupon ${ruleStr(s).replace(/\{\{/g, '{').replace(/\}\}/g, '}')}\n`, 'sel_refused');
		check(`selector ${JSON.stringify(s)} refused by the compiler`,
			!(r.agents && r.agents[0].ok), JSON.stringify(r).slice(0, 300));
	}
	const { ctx, page } = await newPage(browser);
	const url = `${BASE}/shop/product/boots.html?utm_source=sel`;
	await visit(page, url);
	check('invalid or hostile selectors do not stop the other decisions',
		(await boxText(page, 'sel_text', 'banner')) === 'still here',
		'banner missing');
	await nothingRan(page, 'selectors', url);
	await ctx.close();

	// a hover rule whose watched selector is no valid CSS: the tag must
	// still render the answer's decisions
	const w = push(textRules() + 'rule hov:\n  when event == "hover" and target ~ "a["\n' +
		'  show message "hovered"\n  at most 100 per session\n', 'watch');
	check('a rule watching selector "a[" accepted', w.agents && w.agents[0].ok,
		JSON.stringify(w).slice(0, 300));
	const x = await newPage(browser);
	const ans = await visit(x.page, url);
	check('the answer carries the watch list', Array.isArray(ans.w) &&
		ans.w.includes('a['), JSON.stringify(ans.w));
	check('a bad watched selector does not stop the decisions',
		(await boxText(x.page, 'sel_text', 'banner')) === 'still here',
		'banner missing');
	await x.page.hover('body');
	await nothingRan(x.page, 'watch list', url);
	await x.ctx.close();
}

function message(vid, args) {
	try {
		execFileSync(NUDGE, ['message', vid, ...args, '--agent', AGENT],
			{ encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
		return 0;
	} catch (e) {
		console.log(`# nudge message ${JSON.stringify(args)}: exit ${e.status}: ${e.stderr}`);
		return e.status;
	}
}

async function checkMessages(browser) {
	const { ctx, page } = await newPage(browser);
	const url = `${BASE}/shop/product/gloves.html`;
	await visit(page, url);
	const vid = await page.evaluate(() => localStorage.getItem('nudge_vid'));
	check('the visitor has an id', typeof vid === 'string' && vid.length > 0, String(vid));
	const kinds = ['banner', 'message', 'popup'];
	const some = VECTORS.filter((_, i) => i % 3 === 0).concat(HOLES.slice(3, 6));
	for (let i = 0; i < some.length; i++) {
		const kind = kinds[i % 3];
		const args = kind === 'popup' ? [some[i], '--kind', 'popup',
			'--sel', 'op'] : [some[i], '--kind', kind];
		let rc;
		// a new page view each time, so that one box of each kind is
		// on the page (operator messages have ids "op-N")
		const ds = await decisionsDuring(page, async () => {
			rc = message(vid, args);
			await page.evaluate((n) => history.pushState({}, '', `?m=${n}`), i);
			await exchange(page);
		});
		const d = ds.find((e) => e.id.startsWith('op-'));
		const t = await page.evaluate(([k, id]) => {
			const b = [...document.querySelectorAll(`.nudge-${k}`)]
				.filter((e) => e.getAttribute('data-nudge-id') === id).pop();
			return b ? b.querySelector('span').textContent : null;
		}, [kind, d ? d.id : '']);
		check(`nudge message ${kind} ${JSON.stringify(some[i])}: verbatim text`,
			rc === 0 && d && d.text === some[i] && t === some[i],
			JSON.stringify({ rc, d, t }));
		await page.evaluate((k) => document.querySelectorAll(`.nudge-${k}`)
			.forEach((e) => e.remove()), kind);
	}
	// two banners on one page view: each message has its own id, so the
	// tag (one decision per id and kind per page view) shows both
	await page.evaluate(() => history.pushState({}, '', '?m=two'));
	await exchange(page);
	const twice = [];
	for (const text of ['first of two', 'second of two']) {
		let rc;
		const ds = await decisionsDuring(page, async () => {
			rc = message(vid, [text, '--kind', 'banner']);
			await exchange(page);
		});
		twice.push({ rc, d: ds.find((e) => e.id.startsWith('op-')) });
	}
	const boxes = await page.evaluate(() => [...document.querySelectorAll('.nudge-banner')]
		.map((e) => [e.getAttribute('data-nudge-id'), e.querySelector('span').textContent])
		.filter(([id]) => id.startsWith('op-')));
	check('two messages on one page view: both answered, with different ids',
		twice.every((x) => x.rc === 0 && x.d) && twice[0].d.id !== twice[1].d.id,
		JSON.stringify(twice));
	check('two messages on one page view: both shown',
		twice.every((x) => x.d && boxes.some(([id, t]) => id === x.d.id &&
			t === x.d.text)) && boxes.length === 2, JSON.stringify(boxes));
	await page.evaluate(() => document.querySelectorAll('.nudge-banner')
		.forEach((e) => e.remove()));
	const sels = ['<img src=x onerror=window.__pwned=80>', '*',
		"');window.__pwned=81;//", '</script><script>window.__pwned=82</script>'];
	for (const s of sels) {
		for (const kind of ['show', 'shake', 'coupon']) {
			const rc = message(vid, ['--kind', kind, '--sel', s]);
			await exchange(page);
			check(`nudge message --kind ${kind} --sel ${JSON.stringify(s)}: queued`,
				rc === 0, `exit ${rc}`);
		}
	}
	await nothingRan(page, 'operator messages');
	await ctx.close();
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
	args: ['--no-sandbox'] });
try {
	await checkTexts(browser);
	await checkHoles(browser);
	await checkSelectors(browser);
	await checkMessages(browser);
} catch (e) {
	fail('xss suite', e.stack || String(e));
} finally {
	await browser.close();
}
console.log(failures ? `${failures} failed` : 'all passed');
process.exit(0);
