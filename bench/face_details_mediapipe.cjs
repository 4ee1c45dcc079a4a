// face_details_mediapipe.cjs: the per-face cost of MediaPipe's own Face Landmarker on the same
// photo, for bench/face_details.sh: tasks-vision (WASM, CPU delegate, IMAGE mode) in headless
// Chromium; the landmarker's time minus its face detector's time (FaceDetector on the same
// image) is the cost of the landmarks (+ transformation matrix) and, with blendshapes on, of
// those too. Prints medians in ms. Needs $EMO_REF_DIR/tasks-vision (see
// tools/ref/face_landmarker.cjs) and the bundle in the model cache.
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
  const time = (f) => { for (let i = 0; i < 5; i++) f(); const t = []; for (let i = 0; i < ${runs}; i++) { const t0 = performance.now(); f(); t.push(performance.now() - t0); } t.sort((a, b) => a - b); return t[t.length >> 1]; };
  const n = full.detect(id).faceLandmarks.length;
  const r = { faces: n, detector: time(() => det.detect(id)), pose: time(() => pose.detect(id)), full: time(() => full.detect(id)) };
  await post('/result/r', JSON.stringify(r));
});
</script></body></html>`;

(async () => {
  const routes = {
    '/index.html': { body: PAGE, type: 'text/html' },
    '/tv/': { dir: TV },
    '/image': { file: image },
    '/face_landmarker.task': { file: fx.needModel('face_landmarker.task') },
    '/face_detector.tflite': { body: require('child_process').execFileSync('unzip', ['-p', fx.needModel('face_landmarker.task'), 'face_detector.tflite']) },
  };
  const r = JSON.parse((await runInChromium(routes)).get('r').toString());
  const per = (x) => ((x - r.detector) / r.faces).toFixed(3);
  console.log(`MediaPipe tasks-vision (WASM, CPU, Chromium): ${r.faces} face(s); detector ${r.detector.toFixed(3)} ms; ` +
    `landmarker pose-level ${r.pose.toFixed(3)} ms, full ${r.full.toFixed(3)} ms per image => ` +
    `pose ${per(r.pose)} ms, full ${per(r.full)} ms per face (median of ${runs})`);
})().catch((e) => { console.error(e); process.exit(1); });
