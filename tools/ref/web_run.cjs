// web_run.cjs: runs a reference computation in headless Chromium, for the runtimes that only
// work in a browser (the TFLite interpreter compiled to WASM). It starts an
// HTTP server on 127.0.0.1 (random port) that serves a page, the runtime files and the job's
// binary blobs, launches Chromium on the page, and collects what the page POSTs back:
//   POST /result/<key>   body: the bytes of one result (kept in a Map under <key>)
//   POST /log            body: text, printed
//   POST /done           the page finished;  POST /error  body: message, fails the run;
//   POST <route>         a route with { post: (body, pid) => reply }: the caller's hook, called
//                        with Chromium's pid before the page gets the reply (the bench reads the
//                        renderer's CPU time there).
// Nothing is fetched from the network: every route is a local file or an in-memory buffer.
// What to compute is left to the callers (tflite_models.cjs).
'use strict';

const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.cjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.json': 'application/json' };

// routes: { '/path': { file: '/abs/path' } | { body: Buffer|string, type } }; '/x/' prefixes
// with { dir } serve a folder. Returns a Map key -> Buffer of the page's results.
function runInChromium(routes, { timeoutMs = 300000, chromium = process.env.CHROMIUM || '/usr/bin/chromium', extraArgs = [] } = {}) {
  return new Promise((resolve, reject) => {
    const results = new Map();
    let child = null;
    let finished = false;
    const finish = (err) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      server.close();
      const cleanup = () => {
        try { fs.rmSync(profile, { recursive: true, force: true, maxRetries: 5 }); } catch (e) { /* scratch */ }
        if (err) reject(err); else resolve(results);
      };
      if (child && child.exitCode === null && child.signalCode === null) {
        child.once('exit', cleanup);
        child.kill('SIGKILL');
      } else {
        cleanup();
      }
    };
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'emo-ref-chromium-'));
    const server = http.createServer((req, res) => {
      const url = new URL(req.url, 'http://127.0.0.1');
      const p = decodeURIComponent(url.pathname);
      if (req.method === 'POST') {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks);
          if (routes[p] && routes[p].post) {
            let reply;
            try { reply = routes[p].post(body, child && child.pid); } catch (e) { res.end('error'); finish(e); return; }
            res.end(reply === undefined ? 'ok' : String(reply));
            return;
          }
          res.end('ok');
          if (p.startsWith('/result/')) results.set(p.slice(8), body);
          else if (p === '/log') console.log('[page]', body.toString());
          else if (p === '/error') finish(new Error(`page: ${body.toString()}`));
          else if (p === '/done') finish(null);
        });
        return;
      }
      let r = routes[p];
      let file = r && r.file;
      if (!r) {
        const prefix = Object.keys(routes).find((k) => k.endsWith('/') && p.startsWith(k) && routes[k].dir);
        if (prefix) {
          const rel = p.slice(prefix.length);
          if (!rel.includes('..')) file = path.join(routes[prefix].dir, rel);
        }
      }
      if (r && r.body !== undefined) {
        res.writeHead(200, { 'Content-Type': r.type || 'application/octet-stream' });
        res.end(r.body);
      } else if (file && fs.existsSync(file) && fs.statSync(file).isFile()) {
        res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
        res.end(fs.readFileSync(file));
      } else {
        if (p !== '/favicon.ico') console.error(`[server] 404 ${p}`);
        res.writeHead(404);
        res.end();
      }
    });
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}/index.html`;
      child = spawn(chromium, [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--disable-default-apps', '--disable-extensions', '--no-first-run', '--no-default-browser-check',
        '--metrics-recording-only', '--mute-audio', '--enable-logging=stderr', `--user-data-dir=${profile}`,
        ...extraArgs, url,
      ], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr = (stderr + d.toString()).slice(-4000);
        if (process.env.EMO_REF_DEBUG) process.stderr.write(d);
      });
      child.on('error', (e) => finish(new Error(`cannot start ${chromium}: ${e.message} (apt-get install -y chromium, or set CHROMIUM)`)));
      child.on('exit', (code) => finish(new Error(`chromium exited (${code}) before the page finished:\n${stderr}`)));
    });
  });
}

// Page-side helpers, inlined into the pages: post a result, a log line, an error, done.
const PAGE_HELPERS = `
async function post(p, body) { await fetch(p, { method: 'POST', body }); }
function log(s) { return post('/log', String(s)); }
async function getBin(p) { const r = await fetch(p); if (!r.ok) throw new Error(p + ': ' + r.status); return r.arrayBuffer(); }
async function main(fn) {
  try { await fn(); await post('/done', ''); }
  catch (e) { await post('/error', (e && e.stack) || String(e)); }
}
`;

module.exports = { runInChromium, PAGE_HELPERS };
