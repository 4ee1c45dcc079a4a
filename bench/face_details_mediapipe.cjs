// face_details_mediapipe.cjs: the per-face cost of MediaPipe's own Face Landmarker on the same
// photo, for bench/face_details.sh: tasks-vision (WASM, CPU delegate, IMAGE mode) in headless
// Chromium; the landmarker's time minus its face detector's time (FaceDetector on the same
// image) is the cost of the landmarks (+ transformation matrix) and, with blendshapes on, of
// those too. Prints, per phase, the CPU time of the renderer's main thread, where the page and
// the WASM build run (/proc/PID/task/PID/schedstat, read between the page's timed loops: the
// same measure as emo's thread CPU time; Linux only), and of all the renderer's threads, each
// divided by the runs, and the median wall time per image (performance.now; inflated on a loaded
// machine, where the per-face difference of two wall times means nothing).
// Needs $EMO_REF_DIR/tasks-vision (see tools/ref/face_landmarker.cjs) and the bundle in the
// model cache.
// Usage: node bench/face_details_mediapipe.cjs IMAGE [RUNS]
'use strict';

const fs = require('fs');
const path = require('path');
const fx = require('../tools/ref/fixture.cjs');
const { runInChromium, PAGE_HELPERS } = require('../tools/ref/web_run.cjs');

const image = path.resolve(process.argv[2] || '');
const runs = Number(process.argv[3] || 100);
const TV = path.join(fx.REF_DIR, 'tasks-vision');
const PAGE = `<!doctype html><html><body><script type="module">
${PAGE_HELPERS}
import { FilesetResolver, FaceLandmarker, FaceDetector } from '/tv/vision_bundle.mjs';
main(async () => {
  const fileset = await FilesetResolver.forVisionTasks('/tv/wasm');
  const base = { modelAssetPath: '/face_landmarker.task', delegate: 'CPU' };
  const mk = (bs) => FaceLandmarker.createFromOptions(fileset, { baseOptions: base, runningMode: 'IMAGE', numFaces: 8,
    outputFaceBlendshapes: bs, outputFacialTransformationMatrixes: true });
  const pose = await mk(false), full = await mk(true);
  const det = await FaceDetector.createFromOptions(fileset, { baseOptions: { modelAssetPath: '/face_detector.tflite', delegate: 'CPU' }, runningMode: 'IMAGE' });
  const img = new Image(); img.src = '/image'; await img.decode();
  const c = new OffscreenCanvas(img.naturalWidth, img.naturalHeight); const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const id = g.getImageData(0, 0, c.width, c.height);
  const time = async (name, f) => {
    for (let i = 0; i < 5; i++) f();
    await post('/cpu/' + name + '0', '');
    const t = []; for (let i = 0; i < ${runs}; i++) { const t0 = performance.now(); f(); t.push(performance.now() - t0); }
    await post('/cpu/' + name + '1', '');
    t.sort((a, b) => a - b); return t[t.length >> 1];
  };
  const n = full.detect(id).faceLandmarks.length;
  const r = { faces: n };
  for (let round = 0; round < 2; round++) {  // interleaved twice; the lower CPU time of the two is kept
    for (const [k, m] of [['detector', det], ['pose', pose], ['full', full]]) r[k + round] = await time(k + round, () => m.detect(id));
  }
  await post('/result/r', JSON.stringify(r));
});
</script></body></html>`;

// CPU time (ns) of Chromium's renderer processes under root: [main threads, all threads].
function rendererCpuNs(root) {
  const kids = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch (e) { /* gone */ }
  }
  let main = 0, all = 0;
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop();
    todo.push(...(kids.get(pid) || []));
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer')) continue;
      for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
        const ns = Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
        all += ns;
        if (Number(t) === pid) main += ns;
      }
    } catch (e) { /* gone */ }
  }
  return [main, all];
}

(async () => {
  const cpu = {};
  const mark = (name) => ({ post: (body, pid) => { cpu[name] = rendererCpuNs(pid); } });
  const routes = {
    '/index.html': { body: PAGE, type: 'text/html' },
    '/tv/': { dir: TV },
    '/image': { file: image },
    '/face_landmarker.task': { file: fx.needModel('face_landmarker.task') },
    '/face_detector.tflite': { body: require('child_process').execFileSync('unzip', ['-p', fx.needModel('face_landmarker.task'), 'face_detector.tflite']) },
  };
  for (const k of ['detector', 'pose', 'full']) for (const round of [0, 1]) for (const e of [0, 1]) routes[`/cpu/${k}${round}${e}`] = mark(`${k}${round}${e}`);
  const r = JSON.parse((await runInChromium(routes, { timeoutMs: 1800000 })).get('r').toString());
  const c = {}, a = {}, w = {};
  for (const k of ['detector', 'pose', 'full']) {
    const d = (i, t) => (cpu[`${k}${i}1`][t] - cpu[`${k}${i}0`][t]) / 1e6 / runs;
    c[k] = Math.min(d(0, 0), d(1, 0));
    a[k] = Math.min(d(0, 1), d(1, 1));
    w[k] = Math.min(r[k + 0], r[k + 1]);
  }
  const per = (x, o) => ((x[o] - x.detector) / r.faces).toFixed(3);
  console.log(`MediaPipe tasks-vision (WASM, CPU, Chromium): ${r.faces} face(s); renderer main thread CPU time per ` +
    `image: detector ${c.detector.toFixed(3)} ms, landmarker pose-level ${c.pose.toFixed(3)} ms, full ${c.full.toFixed(3)} ms ` +
    `=> pose ${per(c, 'pose')} ms, full ${per(c, 'full')} ms per face (mean of ${runs}, lower of 2 rounds; all renderer ` +
    `threads: pose ${per(a, 'pose')} ms, full ${per(a, 'full')} ms); median wall per image: detector ` +
    `${w.detector.toFixed(1)} ms, pose-level ${w.pose.toFixed(1)} ms, full ${w.full.toFixed(1)} ms`);
})().catch((e) => { console.error(e); process.exit(1); });
