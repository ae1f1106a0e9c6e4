// The e2e test's app written for Fitbit's OAuth 2.0: the npm package
// fitbit-node, unchanged but for its Fitbit URLs, which are replaced by the
// gateway's as the source is loaded. It signs in (a small browser that
// keeps cookies and follows redirects), exchanges the code, reads profile,
// daily activity, heart rate and sleep, waits for its token to expire and
// refreshes as an app does on expired_token, and revokes. It prints one JSON line of what it saw; the
// Go test (e2e/oauth2_test.go) checks it.
'use strict';
const fs = require('fs');
const path = require('path');
const Module = require('module');

const {GATEWAY, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI} = process.env;

// Load fitbit-node with https://api.fitbit.com/ (its only URL, which it
// also turns into www.fitbit.com for the consent) replaced by the gateway.
function loadFitbitNode() {
	const file = require.resolve('fitbit-node');
	const src = fs.readFileSync(file, 'utf8').split('https://api.fitbit.com/').join(GATEWAY + '/');
	const m = new Module(file, module);
	m.filename = file;
	m.paths = Module._nodeModulePaths(path.dirname(file));
	m._compile(src, file);
	return m.exports;
}

// signIn is the user's browser: it follows redirects, keeping cookies per
// host, until the app's redirect URI, and returns that URL.
async function signIn(url) {
	const jar = new Map();
	for (let i = 0; i < 20; i++) {
		const u = new URL(url);
		const cookies = jar.get(u.host) || new Map();
		const resp = await fetch(url, {redirect: 'manual', headers: {Cookie: [...cookies].map(([k, v]) => k + '=' + v).join('; ')}});
		for (const c of resp.headers.getSetCookie()) {
			const [pair] = c.split(';');
			const eq = pair.indexOf('=');
			cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
		}
		jar.set(u.host, cookies);
		const next = resp.headers.get('location');
		if (!next) throw new Error('sign-in stopped at ' + u.pathname + ' with ' + resp.status + ': ' + (await resp.text()).slice(0, 300));
		url = new URL(next, url).toString();
		if (url.startsWith(REDIRECT_URI)) {
			await (await fetch(url)).text(); // the app's page
			return url;
		}
	}
	throw new Error('too many redirects');
}

function errorType(body) {
	return body && body.errors && body.errors[0] && body.errors[0].errorType;
}

async function main() {
	const FitbitApiClient = loadFitbitNode();
	const client = new FitbitApiClient({clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, apiVersion: '1'});
	const sleepClient = new FitbitApiClient({clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, apiVersion: '1.2'});
	const out = {};
	const back = new URL(await signIn(client.getAuthorizeUrl('activity heartrate profile sleep', REDIRECT_URI, undefined, 'st4te')));
	out.state = back.searchParams.get('state');
	out.fragment = back.hash;
	const first = await client.getAccessToken(back.searchParams.get('code'), REDIRECT_URI);
	out.user_id = first.user_id;
	out.scope = first.scope;
	out.expires_in = first.expires_in;
	let tok = first;
	out.refreshes = 0;
	// read is the app's API call, written as apps written for Fitbit wrote
	// it: on 401 expired_token, the library's refresh, then the call again.
	const read = async (c, p) => {
		let [body, resp] = await c.get(p, tok.access_token);
		if (resp.statusCode === 401 && errorType(body) === 'expired_token') {
			const fresh = await client.refreshAccessToken(tok.access_token, tok.refresh_token);
			out.refreshes++;
			out.rotated = fresh.refresh_token !== tok.refresh_token && fresh.access_token !== tok.access_token;
			tok = fresh;
			[body, resp] = await c.get(p, tok.access_token);
		}
		return {status: resp.statusCode, body};
	};
	const today = new Date().toISOString().slice(0, 10);
	out.profile = await read(client, '/profile.json');
	out.activity = await read(client, '/activities/date/' + today + '.json');
	out.heart = await read(client, '/activities/heart/date/today/1d.json');
	out.sleep = await read(sleepClient, '/sleep/date/' + today + '.json');
	// The token expires for real (the test registers the app with a short
	// access_token_lifetime): wait until the gateway says so, as an idle app
	// would come back later, then call as usual and let read refresh.
	const before = out.refreshes;
	for (let i = 0; ; i++) {
		const [body, resp] = await client.get('/profile.json', tok.access_token);
		if (resp.statusCode === 401 && errorType(body) === 'expired_token') break;
		if (resp.statusCode !== 200 || i > 600) throw new Error('waiting for the expiry: ' + resp.statusCode + ' ' + JSON.stringify(body));
		await new Promise((r) => setTimeout(r, 100));
	}
	out.after_refresh = await read(client, '/profile.json');
	out.refreshed_on_expiry = out.refreshes > before;
	await client.revokeAccessToken(tok.access_token);
	out.after_revoke = await read(client, '/profile.json');
	out.secrets = [first.access_token, first.refresh_token, tok.access_token, tok.refresh_token];
	process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
	process.stderr.write(String(e && e.stack || e) + '\n');
	process.exit(1);
});
