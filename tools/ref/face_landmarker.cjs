// face_landmarker.cjs: reference outputs of MediaPipe's own Face Landmarker (the
// @mediapipe/tasks-vision package, its WASM build, CPU delegate, IMAGE mode) on real photos of
// ../shared/data, written to tests/fixtures/face_landmarker.fix for tests/test_face_mesh.c:
//   "info"              uint8 text: runtime and version;
//   "s<k>.file"         uint8 text: the photo, relative to ../shared/data;
//   "s<k>.landmarks"    float32 (n, 478, 3): normalised landmarks (x, y fractions, z as x);
//   "s<k>.matrix"       float32 (n, 16): facial transformation matrices (column-major);
//   "s<k>.blendshapes"  float32 (n, 52).
// Faces are in MediaPipe's order. Needs the package unpacked under $EMO_REF_DIR/tasks-vision
// (tools/ref/setup.sh: npm pack @mediapipe/tasks-vision@0.10.21, unpacked), the bundle in the
// model cache and Chromium. Usage: node tools/ref/face_landmarker.cjs
'use strict';

const fs = require('fs');
const path = require('path');
const fx = require('./fixture.cjs');
const { runInChromium, PAGE_HELPERS } = require('./web_run.cjs');

const VERSION = '0.10.21';
const TV = path.join(fx.REF_DIR, 'tasks-vision');
const DATA = path.resolve(fx.REPO, '..', 'shared', 'data');
const IMAGES = ['faces/misc/single_face.jpg', 'faces/misc/multi_face.jpg',
  'faces/expressions/stock-emotions-a-1.jpg', 'faces/expressions/stock-emotions-b-3.jpg',
  'faces/pose_kdef/AF01NES.jpg', 'faces/pose_kdef/AM02NEHR.jpg'];

const PAGE = `<!doctype html><html><body><script type="module">
${PAGE_HELPERS}
import { FilesetResolver, FaceLandmarker } from '/tv/vision_bundle.mjs';
main(async () => {
  const files = await (await fetch('/images.json')).json();
  const fileset = await FilesetResolver.forVisionTasks('/tv/wasm');
  const lmk = await FaceLandmarker.createFromOptions(fileset, { baseOptions: { modelAssetPath: '/face_landmarker.task', delegate: 'CPU' },
    runningMode: 'IMAGE', numFaces: 8, outputFaceBlendshapes: true, outputFacialTransformationMatrixes: true });
  for (let k = 0; k < files.length; k++) {
    const img = new Image(); img.src = '/img/' + files[k]; await img.decode();
    const c = new OffscreenCanvas(img.naturalWidth, img.naturalHeight); const g = c.getContext('2d'); g.drawImage(img, 0, 0);
    const r = lmk.detect(g.getImageData(0, 0, c.width, c.height));
    const n = r.faceLandmarks.length;
    const lm = new Float32Array(n * 478 * 3), mat = new Float32Array(n * 16), bs = new Float32Array(n * 52);
    for (let i = 0; i < n; i++) {
      r.faceLandmarks[i].forEach((p, j) => { lm.set([p.x, p.y, p.z], (i * 478 + j) * 3); });
      mat.set(r.facialTransformationMatrixes[i].data, i * 16);
      r.faceBlendshapes[i].categories.forEach((cat) => { bs[i * 52 + cat.index] = cat.score; });
    }
    await post('/result/' + k + '/n', String(n));
    await post('/result/' + k + '/landmarks', lm.buffer);
    await post('/result/' + k + '/matrix', mat.buffer);
    await post('/result/' + k + '/blendshapes', bs.buffer);
  }
});
</script></body></html>`;

(async () => {
  if (!fs.existsSync(path.join(TV, 'vision_bundle.mjs'))) {
    console.error(`missing ${TV}/vision_bundle.mjs: npm pack @mediapipe/tasks-vision@${VERSION} and unpack it there`);
    process.exit(1);
  }
  const routes = {
    '/index.html': { body: PAGE, type: 'text/html' },
    '/tv/': { dir: TV },
    '/img/': { dir: DATA },
    '/face_landmarker.task': { file: fx.needModel('face_landmarker.task') },
    '/images.json': { body: JSON.stringify(IMAGES), type: 'application/json' },
  };
  const res = await runInChromium(routes);
  const tensors = [fx.infoTensor(`MediaPipe tasks-vision ${VERSION} (WASM, CPU delegate, IMAGE mode) in headless Chromium; face_landmarker.task sha256 64184e22...`)];
  IMAGES.forEach((file, k) => {
    const n = Number(res.get(k + '/n').toString());
    const f32 = (key) => new Float32Array(new Uint8Array(res.get(k + '/' + key)).buffer);
    tensors.push({ name: `s${k}.file`, dtype: 'uint8', dims: [Buffer.byteLength(file)], data: new Uint8Array(Buffer.from(file)) });
    tensors.push({ name: `s${k}.landmarks`, dtype: 'float32', dims: [n, 478, 3], data: f32('landmarks') });
    tensors.push({ name: `s${k}.matrix`, dtype: 'float32', dims: [n, 16], data: f32('matrix') });
    tensors.push({ name: `s${k}.blendshapes`, dtype: 'float32', dims: [n, 52], data: f32('blendshapes') });
    console.log(`${file}: ${n} face(s)`);
  });
  fx.writeFixture(path.join(fx.FIXTURES, 'face_landmarker.fix'), tensors);
})().catch((e) => { console.error(e); process.exit(1); });
