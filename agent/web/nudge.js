// nudge.js - the nudge browser tag, served by nudged at /nudge/nudge.js.
//
// A page needs one line:  <script src="/nudge/nudge.js" async></script>
// and, to call it before it has loaded, the queue stub:
//   <script>window.nudge = window.nudge || function () {
//     (nudge.q = nudge.q || []).push(arguments); };</script>
// Commands:
//   nudge('track', 'add_to_cart', {sku: 'BOOT-41', price: 89, quantity: 1})
//   nudge('track', 'purchase', {value: 129.9})   also login, email, any name
//   nudge('consent', true | false)
// Consent: with data-consent="required" on the script tag (or
// window.nudgeConsentRequired = true) nothing is sent before
// nudge('consent', true).  Nothing is ever sent when navigator.doNotTrack
// is "1" or navigator.globalPrivacyControl is true.
// Visitor id: 16 random hex digits (crypto.getRandomValues) in the
// first-party cookie nudge_vid (SameSite=Lax, 13 months), else
// localStorage; no fingerprinting.  Events are batched and sent about every
// second with fetch (keepalive) so that the decisions in the answer can be
// applied; when the page is hidden or left, with navigator.sendBeacon.
// x, y and scroll are fractions (0..1) of the document's width and height.
// Decisions are rendered with textContent only: never HTML.
// Whole-line // comments and indentation are stripped when it is embedded.
(function (w, d) {
	'use strict';
	var nav = w.navigator, loc = w.location, noop = function () {};
	var has = Function.call.bind(Object.prototype.hasOwnProperty);
	var errs = 0, buf = [], timer = 0, vid = null, consent = null;
	var page = '', maxScroll = 0, sentScroll = 0, exitDone = 0, lastScroll = 0;
	var watch = ['.price'], seen = [], shown = {}, io = null, styled = 0;
	var script = d.currentScript, base = '/nudge/';
	function report(e) {
		// errors become (at most 3 per page) "error" events, never exceptions
		try {
			if (errs++ < 3)
				push('error', {fields: {msg: String(e && e.message || e).slice(0, 200)}});
		} catch (e2) {}
	}
	function safe(f) {
		return function () {
			try { return f.apply(this, arguments); } catch (e) { report(e); }
		};
	}
	function off() {
		return nav.doNotTrack == '1' || w.doNotTrack == '1' ||
			nav.globalPrivacyControl === true;
	}
	function needConsent() {
		return (script && script.getAttribute('data-consent') == 'required') ||
			w.nudgeConsentRequired === true;
	}
	function ok() { return !off() && (!needConsent() || consent === true); }
	function cookie(v, age) {
		d.cookie = 'nudge_vid=' + v + ';path=/;max-age=' + age + ';SameSite=Lax' +
			(loc.protocol == 'https:' ? ';Secure' : '');
	}
	function store(v) {
		cookie(v, 34214400);
		try { w.localStorage.setItem('nudge_vid', v); } catch (e) {}
	}
	function visitor() {
		if (vid) return vid;
		var m = /(?:^|; )nudge_vid=([0-9a-f]{16})/.exec(d.cookie), v = m && m[1];
		try { v = v || w.localStorage.getItem('nudge_vid'); } catch (e) {}
		if (!v || !/^[0-9a-f]{16}$/.test(v)) {
			var a = new Uint8Array(8), i;
			w.crypto.getRandomValues(a);
			for (v = '', i = 0; i < 8; i++) v += (a[i] + 256).toString(16).slice(1);
		}
		store(v);
		return (vid = v);
	}
	function forget() {
		vid = null;
		buf = [];
		cookie('', 0);
		try { w.localStorage.removeItem('nudge_vid'); } catch (e) {}
	}
	function push(type, o) {
		if (!ok()) return;
		o = o || {};
		o.type = type;
		o.page = o.page || page;
		o.ts = Date.now();
		buf.push(o);
		if (buf.length >= 100) flush();
		else if (!timer) timer = setTimeout(safe(function () { timer = 0; flush(); }), 1000);
	}
	function flush(leaving) {
		if (!buf.length || !ok()) return;
		var b = {visitor: visitor(), events: buf.splice(0, 100)};
		if (consent === true) b.consent = true;
		if (nav.webdriver) b.wd = true;
		var s = JSON.stringify(b), url = base + 'e';
		if (leaving && nav.sendBeacon && nav.sendBeacon(url, s)) return;
		if (!w.fetch) return;
		// a string body goes as text/plain: a simple request, no preflight
		w.fetch(url, {method: 'POST', body: s, keepalive: true, credentials: 'omit'})
			.then(function (r) { return r.ok ? r.json() : null; })
			.then(safe(decisions), noop);
	}
	function pageview(first) {
		var p = (loc.pathname + loc.search).slice(0, 512);
		if (p == page) return;
		if (page) scrollOut();
		page = p;
		maxScroll = sentScroll = exitDone = 0;
		seen = [];
		shown = {};
		var o = {}, q = new URLSearchParams(loc.search);
		['utm_source', 'utm_medium', 'utm_campaign'].forEach(function (k) {
			if (q.get(k)) o[k] = q.get(k).slice(0, 256);
		});
		if (first && d.referrer) o.referrer = d.referrer.slice(0, 256);
		push('pageview', o);
		observe();
	}
	function scrollOut() {
		if (maxScroll > sentScroll) {
			sentScroll = maxScroll;
			push('scroll', {scroll: maxScroll});
		}
	}
	function pagehide() {
		scrollOut();
		flush(true);
	}
	function size() {
		var e = d.documentElement, b = d.body || e;
		return [Math.max(e.scrollWidth, b.scrollWidth, 1), Math.max(e.scrollHeight, b.scrollHeight, 1)];
	}
	function frac(v) { return Math.round(Math.min(Math.max(v, 0), 1) * 1000) / 1000; }
	function sel(el) {
		// a stable selector: an id, else up to 4 levels of tag.class
		var parts = [], n = 0;
		for (; el && el.nodeType == 1 && n < 4; el = el.parentElement, n++) {
			if (el.id) { parts.unshift('#' + el.id); break; }
			var c = typeof el.className == 'string' ? el.className.trim().split(/\s+/).slice(0, 2) : [];
			parts.unshift(el.tagName.toLowerCase() + (c[0] ? '.' + c.join('.') : ''));
		}
		return parts.join('>').slice(0, 256);
	}
	function watched(el) {
		for (var i = 0; el && el.closest && i < watch.length; i++) {
			var m = el.closest(watch[i]);
			if (m) return m;
		}
		return null;
	}
	function once(el, kind) {
		for (var i = 0; i < seen.length; i++)
			if (seen[i][0] === el && seen[i][1] == kind) return false;
		seen.push([el, kind]);
		return true;
	}
	function observe() {
		if (!w.IntersectionObserver) return;
		if (io) io.disconnect();
		io = new IntersectionObserver(safe(function (es) {
			es.forEach(function (e) {
				if (e.isIntersecting && once(e.target, 'v'))
					push('visible', {target: sel(e.target)});
			});
		}));
		// a selector the browser refuses is dropped, not thrown
		watch = watch.filter(function (s) {
			try { return d.querySelectorAll(s).forEach(function (el) { io.observe(el); }) || 1; } catch (e) {}
		});
	}
	function onClick(e) {
		var s = size();
		push('click', {x: frac(e.pageX / s[0]), y: frac(e.pageY / s[1]), target: sel(e.target)});
	}
	function onScroll() {
		var s = size(), t = Date.now();
		maxScroll = Math.max(maxScroll, frac((w.scrollY + w.innerHeight) / s[1]));
		if (t - lastScroll > 500 && maxScroll >= sentScroll + 0.25) {
			lastScroll = t;
			sentScroll = maxScroll;
			push('scroll', {scroll: maxScroll});
		}
	}
	function onOver(e) {
		var el = watched(e.target);
		if (el && once(el, 'h')) push('hover', {target: sel(el)});
	}
	function onOut(e) {
		if (!e.relatedTarget && e.clientY <= 0 && !exitDone &&
			w.matchMedia && w.matchMedia('(pointer:fine)').matches) {
			exitDone = 1;
			push('exit_intent', {});
		}
	}
	function track(name, p) {
		var o = {fields: {}}, n = 0;
		p = p || {};
		for (var k in p) {
			if (!has(p, k)) continue;
			var v = p[k];
			if (k == 'sku') o.sku = String(v).slice(0, 256);
			else if (k == 'price' || k == 'value') o.value = +v;
			else if (k == 'quantity') o.quantity = Math.max(0, v | 0);
			else if (n < 8 && k.length <= 32) { o.fields[k] = String(v).slice(0, 256); n++; }
		}
		if (!n) delete o.fields;
		push(String(name).slice(0, 32), o);
	}
	function setConsent(v) {
		var was = ok();
		consent = v === true;
		if (!consent) forget();
		else if (!was && ok()) { var p = page; page = ''; pageview(!p); }
	}
	// ---- decisions: elements built with createElement and textContent ----
	function el(tag, css, text) {
		var e = d.createElement(tag);
		e.style.cssText = css;
		if (text != null) e.textContent = text;
		return e;
	}
	function closer(box) {
		var b = el('button', 'margin-left:1em;border:0;background:none;font-size:1.2em;cursor:pointer', '\u00d7');
		b.setAttribute('aria-label', 'close');
		b.onclick = function () { box.remove(); };
		return b;
	}
	function layer(dec, css, inner) {
		var box = el('div', 'position:fixed;z-index:2147483647;font:15px sans-serif;' + css);
		box.className = 'nudge-' + dec.kind;
		box.setAttribute('data-nudge-id', dec.id || '');
		box.append(inner || el('span', '', dec.text || ''), closer(box));
		d.body.append(box);
		return box;
	}
	function each(s, f) { try { d.querySelectorAll(s).forEach(f); } catch (e) { report(e); } }
	function reveal(e) {
		e.hidden = false;
		if (w.getComputedStyle(e).display == 'none') e.style.display = 'block';
	}
	function shake(e) {
		if (!styled++) {
			var st = el('style', '');
			st.textContent = '@keyframes nudge-shake{0%,100%{transform:none}25%{transform:translateX(-6px)}75%{transform:translateX(6px)}}.nudge-shake{animation:nudge-shake .3s 3}';
			d.head.appendChild(st);
		}
		e.classList.remove('nudge-shake');
		void e.offsetWidth;
		e.classList.add('nudge-shake');
	}
	function emailForm(dec) {
		var f = el('form', ''), i = el('input', 'margin:.5em 0;display:block');
		var c = el('input', ''), l = el('label', 'display:block;font-size:13px');
		i.type = 'email';
		i.required = true;
		i.name = 'email';
		c.type = 'checkbox';
		l.append(c, ' Yes, e-mail me');
		f.append(el('span', '', dec.text || 'Get our offers by e-mail'), i, l,
		    el('button', '', 'OK'));
		f.onsubmit = safe(function (e) {
			e.preventDefault();
			// the address goes back only with the visitor's explicit consent
			if (c.checked && i.value.length <= 256)
				push('email', {fields: {email: i.value}});
			f.parentNode.remove();
		});
		return f;
	}
	var acts = {
		banner: function (x) { layer(x, 'top:0;left:0;right:0;padding:.6em 1em;background:#222;color:#fff'); },
		message: function (x) { var b = layer(x, 'right:1em;bottom:1em;max-width:22em;padding:.8em;background:#fff;border:1px solid #888'); setTimeout(function () { b.remove(); }, 8000); },
		popup: function (x) { layer(x, 'top:30%;left:50%;transform:translate(-50%);padding:1.5em;background:#fff;border:2px solid #222;box-shadow:0 0 0 100vmax rgba(0,0,0,.4)'); },
		email: function (x) { layer(x, 'top:30%;left:50%;transform:translate(-50%);padding:1.5em;background:#fff;border:2px solid #222', emailForm(x)); },
		show: function (x) { each(x.sel, reveal); },
		hide: function (x) { each(x.sel, function (e) { e.style.display = 'none'; }); },
		shake: function (x) { each(x.sel, shake); },
		coupon: function (x) { each(x.sel || '#promo-code', reveal); }
	};
	function decisions(r) {
		if (!r || !ok()) return;
		if (Array.isArray(r.w)) { watch = r.w.filter(function (s) { return typeof s == 'string'; }); observe(); }
		(Array.isArray(r.d) ? r.d : []).forEach(function (x) {
			var key = x && (x.id + '/' + x.kind);
			if (!x || shown[key] || !has(acts, x.kind)) return;
			shown[key] = 1;
			try { acts[x.kind](x); } catch (e) { report(e); }
		});
	}
	// ---- start ----
	function command(a) {
		if (a[0] == 'track') track(a[1], a[2]);
		else if (a[0] == 'consent') setConsent(a[1]);
		else if (a[0] == 'flush') flush();
	}
	// Campaign assignment, exactly common/assign.h: the variant (0 =
	// control) of visitor id under salt, seed generation g, weights w
	// (percent, sum 100) and holdout h (basis points); -1 held out, -2 bad id.
	function fnv(s) {
		for (var h = 2166136261, i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
		return h;
	}
	function bucket(s) { return fnv('' + fnv(s)) % 1e4; }
	function assign(salt, g, id, w, h) {
		if (!/^[!-~]{1,64}$/.test(id)) return -2;
		if (bucket('campaign-holdout:' + salt + ':' + g + ':' + id) < h) return -1;
		for (var b = bucket(salt + ':' + g + ':' + id), c = 0, i = 0; i < w.length; i++)
			if (b < (c += w[i]) * 100) return i;
		return 0;
	}
	function patch(name) {
		var orig = w.history[name];
		w.history[name] = function () {
			var r = orig.apply(this, arguments);
			safe(pageview)();
			return r;
		};
	}
	w.nudgeAssign = assign;
	try {
		if (w.__nudgeStarted) return;
		w.__nudgeStarted = 1;
		if (script && script.src) base = script.src.replace(/[^/]*$/, '');
		var q = (w.nudge && w.nudge.q) || [];
		w.nudge = safe(function () { command(arguments); });
		d.addEventListener('click', safe(onClick), true);
		d.addEventListener('mouseover', safe(onOver), true);
		d.addEventListener('mouseout', safe(onOut), true);
		w.addEventListener('scroll', safe(onScroll), {passive: true});
		w.addEventListener('popstate', safe(pageview));
		w.addEventListener('pagehide', safe(pagehide));
		d.addEventListener('visibilitychange', safe(function () { if (d.visibilityState == 'hidden') pagehide(); }));
		patch('pushState');
		patch('replaceState');
		for (var i = 0; i < q.length; i++) safe(command)(q[i]);
		pageview(true);
	} catch (e) { report(e); }
})(window, document);
