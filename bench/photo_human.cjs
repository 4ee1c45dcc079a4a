// photo_human.cjs: the peer on one photo: @vladmandic/human 3.3.6 on tfjs-wasm (face detection and
// emotion, as ../shared/peers/scripts/bench_tfjs.cjs configures it for frames, but with up to 64
// faces) over a raw RGB24 image, PASSES timed calls after a warm-up. Prints one JSON line: median
// wall ms and median process CPU ms (process.cpuUsage, user + system) per call, and the faces
// found. Timed region: tensor from raw RGB + detection + emotion + readback + dispose (the JPEG
// decode is not in it; emo's bench_photo figures include emo's decode).
// usage: node photo_human.cjs W H PASSES image.rgb   (cwd or PEERS_NPM: the folder holding
//        node_modules with @vladmandic/human, @tensorflow/tfjs-backend-wasm; bench/photo.sh
//        installs them)
const path = require('path');
const fs = require('fs');
const NM = process.env.PEERS_NPM || '/tmp/peers-build/npm';
const req = (m) => (m.includes('/dist/') ? require(path.join(NM, 'node_modules', m)) : require(require.resolve(m, { paths: [NM] })));
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init) => { // tfjs has no file:// handler without tfjs-node
  const u = typeof url === 'string' ? url : url.url || String(url);
  if (u.startsWith('file://')) return new Response(fs.readFileSync(new URL(u)), { status: 200 });
  return realFetch(url, init);
};
const [WS, HS, passesS, file] = process.argv.slice(2);
const W = +WS, H = +HS, passes = +passesS;
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

async function main() {
  const img = new Uint8Array(fs.readFileSync(file));
  if (img.length !== W * H * 3) throw new Error(`${file}: ${img.length} bytes, want ${W}x${H}x3`);
  const H_ = req('@vladmandic/human/dist/human.node-wasm.js');
  const Human = H_.Human || H_.default;
  const human = new Human({
    backend: 'wasm', wasmPath: path.join(NM, 'node_modules/@tensorflow/tfjs-backend-wasm/dist') + '/',
    modelBasePath: 'file://' + path.join(NM, 'node_modules/@vladmandic/human/models/'),
    debug: false, async: true, warmup: 'none', cacheSensitivity: 0, skipAllowed: false, filter: { enabled: false },
    face: { enabled: true, detector: { enabled: true, rotation: false, maxDetected: 64, skipFrames: 0, minConfidence: 0.2 },
      mesh: { enabled: false }, iris: { enabled: false }, attention: { enabled: false }, description: { enabled: false },
      emotion: { enabled: true, skipFrames: 0, minConfidence: 0.1 }, antispoof: { enabled: false }, liveness: { enabled: false } },
    body: { enabled: false }, hand: { enabled: false }, object: { enabled: false }, gesture: { enabled: false }, segmentation: { enabled: false },
  });
  const tf = human.tf;
  await human.load(); await human.init();
  const run = async () => {
    const t = tf.tensor3d(img, [H, W, 3], 'int32');
    const r = await human.detect(t); tf.dispose(t);
    return r.face.length;
  };
  let faces = await run(); // warm-up
  const wall = [], cpu = [];
  for (let p = 0; p < passes; p++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    faces = await run();
    const t1 = performance.now(), c1 = process.cpuUsage(c0);
    wall.push(t1 - t0); cpu.push((c1.user + c1.system) / 1000);
  }
  console.log(JSON.stringify({ peer: 'human ' + human.version, backend: tf.getBackend(), tfjs: tf.version_core, W, H, passes,
    faces, median_wall_ms: +median(wall).toFixed(1), median_cpu_ms: +median(cpu).toFixed(1) }));
}
main().catch((e) => { console.error(e); process.exit(1); });
