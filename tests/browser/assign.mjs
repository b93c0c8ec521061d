// assign.mjs - the tag's campaign assignment (nudgeAssign in
// agent/web/nudge.js) must give exactly the C results of common/assign.c.
//
//   node assign.mjs DUMP     DUMP: the output of build/tools/assign_dump
//
// Loads nudge.js twice with stub window and document (the source, and
// the stripped text agent/web/embed.sh serves), with __nudgeStarted set
// so the tag only defines its functions and starts nothing.  Checks every
// id of the dump under every plan, and each id's bucket against an
// FNV-1a written here independently.  Prints PASS/FAIL lines; exit status
// 1 on any failure.
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const tagPath = path.join(here, '..', '..', 'agent', 'web', 'nudge.js');
let failed = 0;
const pass = (n) => console.log(`PASS ${n}`);
const fail = (n, why) => { failed++; console.log(`FAIL ${n}: ${why}`); };

function load(src) {
	const win = {__nudgeStarted: 1, navigator: {}, location: {}};
	// A plain function, not node:vm: calls across a VM context cost 30x.
	new Function('window', 'document', src)(win, {});
	return win.nudgeAssign;
}

// Independent of the tag: no Math.imul; x * 16777619 = x * 403 + x * 2^24,
// each part exact in a double, reduced mod 2^32.
function fnv(s) {
	let h = 2166136261;
	for (const b of Buffer.from(s, 'latin1')) {
		const x = (h ^ b) >>> 0;
		h = (x * 403 + (x % 256) * 16777216) % 4294967296;
	}
	return h;
}
const bucket = (s) => fnv(String(fnv(s))) % 10000;

const src = fs.readFileSync(tagPath, 'utf8');
// exactly what the agent serves
const served = execFileSync('sh',
	[path.join(here, '..', '..', 'agent', 'web', 'embed.sh'), '--stripped',
	tagPath], {encoding: 'utf8'});
const lines = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n');
const cfgs = [];
while (lines.length && lines[0].startsWith('config ')) {
	const [, salt, gen, hold, w] = lines.shift().split(' ');
	cfgs.push({salt, gen, hold: Number(hold), w: w.split(',').map(Number)});
}
const rows = lines.map((l) => {
	const f = l.split(' ');
	const id = f[0] === '-' ? '' : Buffer.from(f[0], 'hex').toString('utf8');
	return {id, bucket: Number(f[1]), v: f.slice(2).map(Number)};
});
if (cfgs.length < 2 || rows.length < 100000) fail('dump', `only ${cfgs.length} plans, ${rows.length} ids`);

for (const [name, text] of [['source', src], ['served', served]]) {
	let assign;
	try { assign = load(text); } catch (e) { fail(`load ${name}`, e.message); continue; }
	if (typeof assign != 'function') { fail(`load ${name}`, 'window.nudgeAssign is not a function'); continue; }
	cfgs.forEach((c, k) => {
		let bad = 0, first = '';
		for (const r of rows) {
			const got = assign(c.salt, c.gen, r.id, c.w, c.hold);
			if (got !== r.v[k] && bad++ === 0) first = `id ${JSON.stringify(r.id)}: js ${got}, c ${r.v[k]}`;
		}
		const label = `${name} plan ${k} (${c.salt} gen ${c.gen} holdout ${c.hold} weights ${c.w.join('/')}): ${rows.length} ids`;
		if (bad) fail(label, `${bad} differ, first ${first}`); else pass(label);
	});
}
{
	const c = cfgs[0], seed = `${c.salt}:${c.gen}:`;
	let bad = 0;
	for (const r of rows) {
		const want = /^[!-~]{1,64}$/.test(r.id) ? bucket(seed + r.id) : -2;
		if (want !== r.bucket) bad++;
	}
	if (bad) fail('buckets vs independent FNV-1a', `${bad} differ`);
	else pass(`buckets vs independent FNV-1a: ${rows.length} ids`);
}
process.exit(failed ? 1 : 0);
