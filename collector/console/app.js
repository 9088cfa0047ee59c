// herdwatch console: views over the collector's JSON API (docs/console.md).
//
// Every string from the API is put in the page as text (el() makes text nodes; no HTML sinks,
// no HTML strings anywhere): event fields are attacker-controlled (argv, paths, DNS names).
// Links are built here from fixed prefixes and encodeURIComponent(), never taken from data.
// The API token (to acknowledge alerts or ask an agent for more) lives in sessionStorage and
// goes out only as an Authorization header to this origin.
'use strict';

const POLL_MS = 5000;
const state = { token: sessionStorage.getItem('hw-token') || '', cfg: null, timer: null, seq: 0 };

// ---- DOM helpers (text only) ----
function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false) continue;
		if (k === 'href') e.setAttribute('href', safeHref(v));
		else if (k === 'onclick' || k === 'onsubmit' || k === 'onchange') e.addEventListener(k.slice(2), v);
		else e.setAttribute(k, String(v));
	}
	for (const c of kids.flat()) {
		if (c === null || c === undefined || c === false) continue;
		e.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return e;
}
// internal routes only
function safeHref(v) { v = String(v); return v.startsWith('#/') ? v : '#/'; }
function link(route, ...kids) { return el('a', { href: route }, ...kids); }
const enc = encodeURIComponent;
function route(path, params) {
	const q = Object.entries(params || {}).filter(([, v]) => v !== '' && v !== null && v !== undefined)
		.map(([k, v]) => enc(k) + '=' + enc(v)).join('&');
	return '#/' + path + (q ? '?' + q : '');
}
function table(head, rows, cls) {
	return el('table', { class: cls },
		el('thead', null, el('tr', null, head.map(h => el('th', { class: h.endsWith('#') ? 'num' : null }, h.replace(/#$/, ''))))),
		el('tbody', null, rows));
}
function td(v, cls) { return el('td', { class: cls }, v); }
// a share bar: its width set through the CSSOM (allowed by the CSP, unlike style attributes)
function bar(frac) { const b = el('span', { class: 'bar' }); b.style.width = Math.max(2, Math.round(80 * frac)) + 'px'; return b; }
function sev(s) { return el('span', { class: 'sev-' + s }, s); }
function stateTag(s) { return el('span', { class: 'state state-' + s }, s); }
function fmtTime(t) {
	if (t === null || t === undefined) return '-';
	const d = typeof t === 'number' ? new Date(t / 1e6) : new Date(t);
	if (isNaN(d)) return String(t);
	return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
function nsOf(t) { const d = Date.parse(t); return isNaN(d) ? null : d * 1e6; }
function short(s, n) { s = String(s === null || s === undefined ? '' : s); return s.length > n ? s.slice(0, n) + '…' : s; }
function argv(a) {
	if (!Array.isArray(a)) return '';
	return a.map(x => { x = String(x); return /^[\w@%+=:,./-]+$/.test(x) ? x : JSON.stringify(x); }).join(' ');
}

// ---- API ----
async function api(path) {
	const r = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
	let body = null;
	try { body = await r.json(); } catch (e) { /* not JSON */ }
	if (!r.ok) throw new Error((body && body.error) || r.status + ' ' + r.statusText);
	return body;
}
async function post(path, form) {
	const h = { 'Content-Type': 'application/x-www-form-urlencoded' };
	if (state.token) h.Authorization = 'Bearer ' + state.token;
	const r = await fetch(path, { method: 'POST', credentials: 'same-origin', headers: h, body: new URLSearchParams(form) });
	let body = null;
	try { body = await r.json(); } catch (e) { /* not JSON */ }
	if (!r.ok) throw new Error((body && body.error) || r.status + ' ' + r.statusText);
	return body;
}

// ---- views ----
function parseHash() {
	const h = location.hash.replace(/^#\/?/, '');
	const [p, qs] = h.split('?');
	const parts = p.split('/').map(decodeURIComponent);
	return { view: parts[0] || 'fleet', arg: parts.slice(1).join('/'), q: new URLSearchParams(qs || '') };
}

async function viewFleet() {
	const [herds, members, fleet, cov] = await Promise.all([api('/api/herds'), api('/api/members'),
		api('/api/fleet'), api('/api/coverage')]);
	const covBy = new Map(cov.hosts.map(h => [h.host, h]));
	const counts = new Map();
	for (const a of fleet.alerts) {
		const c = counts.get(a.herd) || { alert: 0, notice: 0, change: 0 };
		if (a.kind === 'herd.change') c.change += a.n; else if (a.severity === 'alert') c.alert += a.n; else c.notice += a.n;
		counts.set(a.herd, c);
	}
	const byHerd = new Map();
	for (const m of members) {
		const k = m.herd || '';
		if (!byHerd.has(k)) byHerd.set(k, []);
		byHerd.get(k).push(m);
	}
	const rows = herds.map(h => {
		const ms = byHerd.get(h.herd) || [];
		const silent = ms.filter(m => m.silent || !m.active);
		const blind = new Map();
		for (const m of ms) {
			const c = covBy.get(m.host);
			for (const p of (c ? c.not_attached : [])) {
				if (!blind.has(p.probe)) blind.set(p.probe, new Set());
				blind.get(p.probe).add(m.member);
			}
		}
		const c = counts.get(h.herd) || { alert: 0, notice: 0, change: 0 };
		const total = h.members || 1;
		return el('tr', { 'data-herd': h.herd },
			td(link(route('alerts', { herd: h.herd }), h.herd), 'herd'),
			td(h.members, 'num'), td(h.active, 'num'),
			td(silent.length ? silent.map((m, i) => [i ? ', ' : '', link(route('member/' + enc(m.member)), m.member)]) : '0'),
			td((h.cohorts || []).map(co => el('div', null, bar(co.members / total),
				(co.version === null ? '(no version)' : co.version) + ': ' + co.members + ' (' +
				Math.round(100 * co.members / total) + '%)' + (co.active !== co.members ? ', ' + co.active + ' active' : '')))),
			td(link(route('alerts', { herd: h.herd, severity: 'alert' }), String(c.alert)), 'num alerts24'),
			td(String(c.notice), 'num'),
			td(link(route('alerts', { herd: h.herd, kind: 'herd.change' }), String(h.changes)), 'num'),
			td(blind.size ? [...blind].map(([p, s]) => el('div', null, p + ': ' + s.size + ' member' + (s.size > 1 ? 's' : ''))) : 'none'),
			td(h.learning ? 'learning' : ''));
	});
	const hostRows = cov.hosts.map(c => el('tr', null, td(c.host), td(c.agent_version || '-'), td(fmtTime(c.time)),
		td(c.probes_attached + ' / ' + c.probes_total, 'num'),
		td(c.not_attached.length ? c.not_attached.map(p => el('div', null, p.probe + ' ',
			el('span', { class: 'mute' }, '(' + p.state + (p.reason ? ': ' + p.reason : '') + ')'))) : 'full coverage')));
	const silentHosts = members.filter(m => m.type === 'host' && m.silent);
	return [el('h1', null, 'Fleet'),
		el('p', { class: 'mute' }, herds.length + ' herds, ' + members.length + ' members; alerts counted since ' + fmtTime(fleet.since_ns)),
		table(['herd', 'members#', 'active#', 'silent / gone', 'cohorts (share)', 'alerts 24 h#', 'notices 24 h#', 'changes#', 'blind (probe: members)', ''], rows, 'fleet'),
		el('h2', null, 'Coverage by host (latest heartbeat)'),
		cov.hosts.length ? table(['host', 'agent', 'heartbeat', 'attached#', 'not attached'], hostRows, 'coverage') : el('p', { class: 'mute' }, 'No heartbeat stored yet.'),
		silentHosts.length ? [el('h2', null, 'Silent hosts'), el('ul', null, silentHosts.map(m => el('li', null, link(route('member/' + enc(m.member)), m.member), ' last seen ' + fmtTime(m.last_seen))))] : null];
}

async function viewAlerts(p) {
	const f = { herd: p.q.get('herd') || '', member: p.q.get('member') || '', severity: p.q.get('severity') || '',
		kind: p.q.get('kind') || '', before: p.q.get('before') || '' };
	const [list, herds] = await Promise.all([api('/api/alert-list?' + new URLSearchParams(Object.entries(f).filter(([, v]) => v).concat([['limit', '100']]))),
		api('/api/herds')]);
	const sel = (name, opts) => el('select', { name }, opts.map(o => { const e = el('option', { value: o }, o || 'any'); if (o === f[name]) e.selected = true; return e; }));
	const form = el('form', { class: 'filters', id: 'filters', onsubmit: ev => {
		ev.preventDefault();
		const d = new FormData(ev.target);
		location.hash = route('alerts', Object.fromEntries([...d].filter(([, v]) => v)));
	} },
	el('label', null, 'herd', sel('herd', [''].concat(herds.map(h => h.herd)))),
	el('label', null, 'member', el('input', { name: 'member', value: f.member, size: 16 })),
	el('label', null, 'severity', sel('severity', ['', 'alert', 'notice'])),
	el('label', null, 'kind', sel('kind', ['', 'member.outlier', 'herd.change', 'member.folded', 'member.silent', 'member.back'])),
	el('button', { type: 'submit' }, 'Filter'));
	const rows = list.alerts.map(x => {
		const a = x.alert;
		const to = a.kind === 'herd.change' ? 'change/' + x.id : 'alert/' + x.id;
		return el('tr', { 'data-alert': x.id, class: 'alert-row' }, td(link('#/' + to, '#' + x.id)), td(fmtTime(a.time)), td(sev(a.severity)),
			td(a.kind), td(a.herd ? link(route('alerts', { herd: a.herd }), a.herd) : '-'),
			td(a.member ? link(route('member/' + enc(a.member)), a.member) : '-'), td(stateTag(x.state)),
			td(el('span', { class: 'mono' }, short(a.explanation, 220))));
	});
	const more = list.next_before >= 0 ? link(route('alerts', Object.assign({}, f, { before: list.next_before })), 'older →') : null;
	return [el('h1', null, f.kind === 'herd.change' ? 'Herd changes' : 'Alerts'), form,
		rows.length ? table(['id', 'time', 'severity', 'kind', 'herd', 'member', 'state', 'explanation'], rows, 'alerts') : el('p', { class: 'mute' }, 'No alerts match.'),
		el('p', null, more)];
}

function eventDetail(e) {
	const k = e.kind || '';
	if (e.net) {
		const n = e.net, s = n.src || {}, d = n.dst || {};
		return (n.proto || '') + ' ' + (s.ip || '') + ':' + (s.port ?? '') + ' → ' + (d.ip || '') + ':' + (d.port ?? '') + (n.result ? ' result ' + n.result : '');
	}
	if (e.file) return (e.file.op || k.replace('file.', '')) + ' ' + (e.file.path || '') + (e.file.target ? ' → ' + e.file.target : '');
	if (e.dns) return 'dns ' + (e.dns.query || '') + ' ' + (e.dns.type || '');
	if (e.auth) return 'auth ' + [e.auth.service, e.auth.user, e.auth.rhost, e.auth.step, e.auth.result].filter(x => x !== null && x !== undefined).join(' ');
	if (e.shell) return 'shell: ' + (e.shell.line || '');
	if (e.exec) return 'exec ' + argv(e.proc && e.proc.args);
	if (e.cred) return 'cred ' + (e.cred.syscall || '');
	if (e.cap) return 'cap ' + (e.cap.name || '');
	if (e.module) return 'module ' + (e.module.name || e.module.path || '');
	if (e.agent) return 'agent ' + (e.agent.version || '');
	return '';
}

function eventsTable(evs, hitIds) {
	return table(['id', 'time', 'kind', 'process', 'argv', 'detail'], evs.map(x => {
		const e = x.event || {}, p = e.proc || {};
		return el('tr', { class: hitIds && hitIds.has(x.id) ? 'hit ev' : 'ev', 'data-kind': e.kind },
			td(String(x.id), 'mono'), td(fmtTime(e.time)), td(e.kind), td(el('span', { class: 'mono' }, p.exe || '')),
			td(el('span', { class: 'mono' }, argv(p.args))), td(el('span', { class: 'mono' }, eventDetail(e))));
	}), 'events');
}

async function ackButton(id, st) {
	if (st === 'acknowledged') return null;
	if (!state.token) return el('span', { class: 'mute' }, 'Enter the API token to acknowledge.');
	const msg = el('span', { id: 'ack-msg' });
	return [el('button', { id: 'ack', onclick: async () => {
		try {
			await post('/api/ack', { id: String(id) });
			msg.textContent = ' acknowledged';
		} catch (e) { msg.textContent = ' ' + e.message; msg.className = 'err'; }
	} }, 'Acknowledge'), msg];
}

async function viewAlert(p) {
	const x = await api('/api/alert?id=' + enc(p.arg));
	const a = x.alert;
	if (a.kind === 'herd.change') { location.replace('#/change/' + x.id); return []; }
	const hit = new Set(x.events.map(e => e.id));
	const tokRows = (a.tokens || []).map(t => typeof t === 'string' ? el('tr', null, td(el('code', null, t))) :
		el('tr', { class: 'tok' }, td(el('code', null, t.token)), td(t.surprisal !== undefined ? t.surprisal.toFixed(2) : '-', 'num'),
			td(t.peers !== undefined ? t.peers_with + ' of ' + t.peers : (t.members_with !== undefined ? t.members_with + ' members' : '-'), 'num'),
			td(t.fleet_with !== undefined ? String(t.fleet_with) : '-', 'num'), td((t.events || []).join(', '), 'mono')));
	const around = x.events.length ? x.events[0].event.time : a.time;
	return [el('h1', null, 'Alert #' + x.id + ' ', sev(a.severity), ' ', stateTag(x.state)),
		el('div', { class: 'card explain', id: 'explanation' }, a.explanation || ''),
		el('p', null, a.kind, ' on ', a.member ? link(route('member/' + enc(a.member), { alert: x.id, around: around }), a.member) : '-',
			' of herd ', a.herd ? link(route('alerts', { herd: a.herd }), a.herd) : '-',
			a.cohort && a.cohort !== a.herd ? ' (cohort ' + a.cohort + ')' : '', ' at ', fmtTime(a.time),
			a.herd_size !== undefined ? '; herd size ' + a.herd_size : '', a.late ? '; late events' : '', a.clock_skew ? '; clock skew' : ''),
		el('p', { id: 'state' }, 'State: ', stateTag(x.state),
			x.state === 'acknowledged' ? ' at ' + fmtTime(x.acked_ns) + (x.note ? ' — ' + x.note : '') : '',
			x.folded_by ? [' — folded by ', link('#/alert/' + x.folded_by, 'alert #' + x.folded_by)] : '',
			x.change_alert ? [' — part of ', link('#/change/' + x.change_alert, 'herd change #' + x.change_alert)] : '',
			' ', await ackButton(x.id, x.state)),
		el('h2', null, 'Tokens'), table(['token', 'surprisal#', 'peers with it#', 'fleet#', 'event seqs'], tokRows, 'tokens'),
		el('h2', null, 'Events behind it'),
		x.events.length ? eventsTable(x.events, hit) : el('p', { class: 'mute' }, 'No stored events cited (or retention removed them).'),
		a.member ? el('p', null, link(route('member/' + enc(a.member), { alert: x.id, around: around }), 'Timeline of ' + a.member + ' around this alert →')) : null];
}

// Process tree of the events: a node per process key, children by parent.key, each with its
// activity (connections, files, logins, shell lines) in time order.
function processTree(evs, hit) {
	const nodes = new Map();
	const node = key => { if (!nodes.has(key)) nodes.set(key, { key, exe: null, args: null, parent: null, pexe: null, kids: [], acts: [], t: null }); return nodes.get(key); };
	for (const x of evs) {
		const e = x.event || {}, p = e.proc;
		if (!p || !p.key || (e.kind || '').startsWith('agent.')) continue;
		const n = node(p.key);
		if (!n.exe || e.kind === 'process.exec') { n.exe = p.exe; n.args = p.args; }
		if (e.parent && e.parent.key && e.parent.key !== p.key) { n.parent = e.parent.key; n.pexe = e.parent.exe; }
		if (n.t === null) n.t = e.time;
		n.acts.push(x);
	}
	// parents outside the window: one node per parent program, not per unseen process
	for (const n of [...nodes.values()]) {
		if (n.parent && !nodes.has(n.parent)) {
			const pk = '\0outside:' + (n.pexe || '?');
			const pn = node(pk);
			pn.exe = n.pexe;
			pn.synthetic = true;
			n.parent = pk;
		}
	}
	for (const n of nodes.values()) if (n.parent && nodes.has(n.parent)) nodes.get(n.parent).kids.push(n);
	const roots = [...nodes.values()].filter(n => !n.parent || !nodes.has(n.parent));
	const render = n => el('li', { class: 'pnode' },
		el('span', { class: 'proc mono' }, n.exe || '?'), ' ',
		n.args ? el('span', { class: 'mono' }, argv(n.args)) : null,
		n.synthetic ? el('span', { class: 'mute' }, ' (parent, not in this window)') : null,
		el('ul', { class: 'tree' },
			n.acts.filter(x => x.event.kind !== 'process.exec').map(x => el('li', { class: 'act' + (hit.has(x.id) ? ' hit' : ''), 'data-kind': x.event.kind },
				el('span', { class: 'k' }, x.event.kind), ' ', el('span', { class: 'mono' }, eventDetail(x.event)), ' ',
				el('span', { class: 'mute' }, fmtTime(x.event.time)))),
			n.kids.map(render)));
	return el('ul', { class: 'tree root', id: 'ptree' }, roots.map(render));
}

async function visibility(host, cov) {
	const box = el('div', { class: 'card', id: 'visibility' }, el('strong', null, 'More visibility: '));
	if (!state.cfg || !state.cfg.requests) { box.append('off (start the collector with --console-requests to allow it).'); return box; }
	if (!state.token) { box.append('enter the API token to ask ' + host + "'s agent."); return box; }
	const names = new Set(['file', 'net', 'process', 'user', 'process.exit']);
	for (const p of (cov && cov.not_attached) || []) if (p.state === 'disabled') names.add(p.probe);
	const s = el('select', { id: 'vis-probe' }, [...names].map(n => el('option', { value: n }, n)));
	const msg = el('span', { id: 'vis-msg' });
	box.append('enable ', s, ' for 10 min on ', host, ' ', el('button', { id: 'vis-ask', onclick: async () => {
		try {
			const r = await post('/api/request', [['host', host], ['arg', 'enable'], ['arg', s.value], ['arg', '--for'], ['arg', '600']]);
			msg.textContent = r.ok ? ' sent (request ' + r.id + '); the agent answers in its event stream' : ' ' + (r.error || 'not sent');
		} catch (e) { msg.textContent = ' ' + e.message; msg.className = 'err'; }
	} }, 'Ask agent'), msg);
	return box;
}

async function viewMember(p) {
	const name = p.arg;
	const alertId = p.q.get('alert');
	let around = p.q.get('around');
	const win = 10 * 60 * 1e9;
	const [members, info] = await Promise.all([api('/api/members'), api('/api/member?name=' + enc(name))]);
	const m = members.find(x => x.member === name);
	const host = m ? m.host : name.split('/')[0];
	let evq = '/api/events?member=' + enc(name) + '&limit=1000';
	const t = around ? nsOf(around) : null;
	if (t) evq += '&since=' + Math.max(0, Math.floor(t - win)) + '&until=' + Math.floor(t + win);
	const [evs, cov] = await Promise.all([api(evq), api('/api/coverage?host=' + enc(host))]);
	const c = cov.hosts[0];
	let hit = new Set();
	if (alertId) {
		try { hit = new Set((await api('/api/alert?id=' + enc(alertId))).events.map(e => e.id)); } catch (e) { /* gone */ }
	}
	const list = evs.events.filter(x => !(x.event.kind || '').startsWith('agent.heartbeat'));
	const probeRows = c && c.probes ? Object.entries(c.probes).map(([k, v]) => el('tr', { class: v && v.state === 'attached' ? '' : 'hit' },
		td(k), td(v && v.state), td(v && v.hook), td(el('span', { class: 'mono' }, v && v.reason ? String(v.reason) : '')))) : [];
	return [el('h1', null, 'Member ', el('span', { id: 'member-name' }, name)),
		m ? el('p', null, 'herd ', m.herd ? link(route('alerts', { herd: m.herd }), m.herd) : '-', m.version ? ', version ' + m.version : '',
			', ', m.type, ' on host ', host, '; first seen ', fmtTime(m.first_seen), ', last seen ', fmtTime(m.last_seen),
			'; score ', String(m.score), '; ', String(m.alerts), ' alerts; ', m.silent ? 'SILENT' : m.active ? 'active' : 'gone') :
			el('p', { class: 'mute' }, 'Not known to the herd engine (forgotten, or never seen).'),
		el('div', { class: 'grid' },
			el('div', null, el('h2', null, 'Tokens no peer shares'),
				info.unshared.length ? table(['token', 'peers', 'alert'], info.unshared.map(u => el('tr', { class: 'unshared' }, td(el('code', null, u.token)),
					td('0 of ' + u.peers, 'num'), td(link('#/alert/' + u.alert, '#' + u.alert))))) : el('p', { class: 'mute' }, 'None.')),
			el('div', null, el('h2', null, 'Alerts'),
				info.alerts.length ? table(['id', 'time', 'kind', 'state'], info.alerts.slice(0, 20).map(x => el('tr', null,
					td(link(x.alert.kind === 'herd.change' ? '#/change/' + x.id : '#/alert/' + x.id, '#' + x.id)), td(fmtTime(x.alert.time)),
					td(sev(x.alert.severity), ' ', x.alert.kind), td(stateTag(x.state))))) : el('p', { class: 'mute' }, 'None.'))),
		await visibility(host, c),
		el('h2', null, 'Timeline ', el('span', { class: 'mute' }, t ? '(' + fmtTime(t - win) + ' to ' + fmtTime(t + win) + ')' : '(latest ' + list.length + ' events)')),
		list.length ? [el('h2', null, 'What ran (process tree)'), processTree(list, hit), el('h2', null, 'Events'), eventsTable(list, hit)] :
			el('p', { class: 'mute' }, 'No events in this window.'),
		evs.truncated ? el('p', { class: 'mute' }, 'The window held more than one answer examines; narrow it.') : null,
		el('h2', null, 'Coverage (latest heartbeat of ' + host + ')'),
		c ? [el('p', null, 'agent ', c.agent_version || '-', ', heartbeat ', fmtTime(c.time), ', ', c.probes_attached + ' of ' + c.probes_total + ' probes attached'),
			probeRows.length ? table(['probe', 'state', 'hook', 'reason'], probeRows, 'probes') : null] :
			el('p', { class: 'mute' }, 'No heartbeat stored for ' + host + '.')];
}

async function viewChange(p) {
	const x = await api('/api/herd-change?id=' + enc(p.arg));
	const a = x.alert;
	const size = a.cohort_size || a.herd_size || 0;
	return [el('h1', null, 'Herd change #' + x.id),
		el('div', { class: 'card explain', id: 'explanation' }, a.explanation || ''),
		el('p', null, 'herd ', link(route('alerts', { herd: a.herd }), a.herd), a.version ? ', version ' + a.version + ' (cohort ' + a.cohort + ')' : '',
			', change number ', String(a.change), ', at ', fmtTime(a.time), '; herd size ', String(a.herd_size)),
		el('h2', null, 'What changed'),
		table(['token', 'members#', 'share#'], (a.tokens || []).map(t => el('tr', { class: 'tok' }, td(el('code', null, t.token)),
			td(String(t.members_with), 'num'), td(size ? Math.round(100 * t.members_with / size) + '%' : '-', 'num')))),
		el('h2', null, 'Member alerts folded into it'),
		x.folded.length ? el('ul', null, x.folded.map(f => el('li', null, link('#/alert/' + f.id, '#' + f.id), ' ',
			link(route('member/' + enc(f.member)), f.member), ' (alerted ' + fmtTime(f.alert_time) + ')'))) : el('p', { class: 'mute' }, 'None.')];
}

const views = { fleet: viewFleet, alerts: viewAlerts, alert: viewAlert, member: viewMember, change: viewChange };

async function render(quiet) {
	const p = parseHash();
	const fn = views[p.view] || viewFleet;
	const my = ++state.seq;
	const t0 = performance.now();
	for (const a of document.querySelectorAll('nav a')) a.classList.toggle('on', a.getAttribute('href') === '#/' + p.view);
	let content;
	try {
		if (!state.cfg || !quiet) state.cfg = await api('/api/console');
		content = await fn(p);
	} catch (e) {
		content = [el('h1', null, 'Error'), el('p', { class: 'err', id: 'error' }, e.message)];
	}
	if (my !== state.seq) return; // a newer render started
	const main = document.getElementById('main');
	// keep what the user is typing or has open: polling does not replace a focused form
	if (quiet && main.contains(document.activeElement) && document.activeElement.tagName !== 'A' && document.activeElement !== document.body) return;
	const y = window.scrollY;
	main.replaceChildren(...[content].flat(3).filter(x => x));
	if (quiet) window.scrollTo(0, y);
	document.body.dataset.view = p.view;
	document.body.dataset.ready = String(my);
	document.body.dataset.renderMs = String(Math.round(performance.now() - t0));
	document.getElementById('live').textContent = 'live, updated ' + new Date().toISOString().slice(11, 19) + 'Z';
}

function setMode() {
	const m = document.getElementById('mode');
	m.textContent = state.token ? 'token set: may act' : 'read-only';
	m.className = state.token ? 'mode act' : 'mode';
}

function start() {
	document.getElementById('token-form').addEventListener('submit', ev => {
		ev.preventDefault();
		const v = document.getElementById('token').value.trim();
		if (/^[0-9a-f]{64}$/.test(v)) { state.token = v; sessionStorage.setItem('hw-token', v); }
		document.getElementById('token').value = '';
		setMode();
		render(false);
	});
	document.getElementById('token-forget').addEventListener('click', () => {
		state.token = ''; sessionStorage.removeItem('hw-token'); setMode(); render(false);
	});
	window.addEventListener('hashchange', () => render(false));
	setMode();
	render(false);
	state.timer = setInterval(() => { if (!document.hidden) render(true); }, POLL_MS);
}
start();
