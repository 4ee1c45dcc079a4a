// blazeface_boxes.cjs: box-level reference of emo's face detector: an independent run of
// MediaPipe's BlazeFace pipeline (short range 128x128, full range 192x192) on the face-api demo
// photos sample1.jpg .. sample6.jpg of the model cache, written to
//   tests/fixtures/blazeface_boxes.json
// (format below). Per photo and model:
//   1. the JPEG is decoded by the browser (Chromium's decoder, not libjpeg-turbo's API as emo
//      uses; createImageBitmap without colour conversion, EXIF orientation applied, though the
//      samples carry none), RGBA read back with getImageData;
//   2. it is letterboxed to the model input as MediaPipe's ImageToTensorCalculator does with
//      keep_aspect_ratio and BORDER_ZERO: the ROI (the whole image) is padded to a square about
//      the image centre (PadRoi, image_to_tensor_utils.cc), each output pixel is sampled
//      bilinearly at its centre (GL texture convention: src = x0 + (j + 0.5) * L / S - 0.5 in
//      pixel-centre coordinates), taps outside the image read 0 (the GL converter's
//      GL_CLAMP_TO_BORDER with border colour 0, as cv::BORDER_CONSTANT), and values map
//      u / 127.5 - 1 (output_tensor_float_range -1..1). For diagnosis only:
//      EMO_REF_SAMPLING=opencv samples at src = x0 + j * L / S (the CPU converter:
//      cv::warpPerspective from the boxPoints corners), and EMO_REF_BORDER=clamp uses the
//      WebGL custom border (texture coordinate outside [0, 1] is 0, taps clamped to the edge);
//   3. the TFLite interpreter (@tensorflow/tfjs-tflite, TFLite C++ compiled to WASM, 1 thread)
//      runs the .tflite file;
//   4. the raw outputs are post-processed here in Node, written from MediaPipe's calculators
//      and graphs (mediapipe/modules/face_detection/face_detection{,_short_range,_full_range}
//      .pbtxt; ssd_anchors_calculator.cc; tensors_to_detections_calculator.cc;
//      non_max_suppression_calculator.cc with WEIGHTED and INTERSECTION_OVER_UNION;
//      DetectionProjectionCalculator with ImageToTensor's transform matrix), independently of
//      emo's C code;
//   5. detections are projected back to image pixels.
// The score threshold is 0.5 for both models (emo's default; MediaPipe's full-range graph uses
// 0.6). Output JSON:
//   { "format": "emo-blazeface-boxes", "version": 1, "info": {...versions, options...},
//     "photos": [ { "name": "sample1.jpg", "width": W, "height": H,
//                   "models": { "short": [det...], "full": [det...] } } ] }
//   det = { "box": [x, y, w, h], "score": s, "keypoints": [[x, y] x 6] }   (image pixels,
//   pixel-edge coordinates: the image spans [0, W] x [0, H]), sorted by score, highest first.
// Needs tools/ref/setup.sh, a Chromium and the models and samples in the cache.
// Usage: node tools/ref/blazeface_boxes.cjs [OUT.json]   (default tests/fixtures/blazeface_boxes.json;
// write the EMO_REF_SAMPLING / EMO_REF_BORDER variants elsewhere, never over the fixture)
'use strict';

const fs = require('fs');
const path = require('path');
const fx = require('./fixture.cjs');
const { runInChromium, PAGE_HELPERS } = require('./web_run.cjs');

const NM = path.join(fx.REF_DIR, 'web', 'node_modules');
const SAMPLES = [1, 2, 3, 4, 5, 6].map((i) => `sample${i}.jpg`);
const SCORE_THRESH = 0.5;
const SAMPLING = process.env.EMO_REF_SAMPLING || 'half';
const BORDER = process.env.EMO_REF_BORDER || 'zero';

// Options of the two graphs (face_detection.pbtxt + face_detection_{short,full}_range.pbtxt).
const MODELS = {
  short: {
    file: 'face_detection_short_range.tflite', size: 128, strides: [8, 16, 16, 16],
    interp: 1.0, numBoxes: 896, scale: 128,
  },
  full: {
    file: 'face_detection_full_range.tflite', size: 192, strides: [4],
    interp: 0.0, numBoxes: 2304, scale: 192,
  },
};
const MIN_SCALE = 0.1484375, MAX_SCALE = 0.75, ANCHOR_OFFSET = 0.5;
const NUM_COORDS = 16, KP_OFFSET = 4, NUM_KP = 6, SCORE_CLIP = 100.0, NMS_THRESH = 0.3;

// ---- SsdAnchorsCalculator (fixed_anchor_size, aspect_ratios {1.0}) ----
function layerScale(i, n) {
  return n === 1 ? (MIN_SCALE + MAX_SCALE) * 0.5 : MIN_SCALE + (MAX_SCALE - MIN_SCALE) * i / (n - 1);
}
function ssdAnchors(m) {
  const anchors = []; // {xc, yc, w, h} normalised to the tensor
  const n = m.strides.length;
  let layer = 0;
  while (layer < n) {
    // Layers with the same stride share one grid; each adds one anchor for aspect ratio 1 and,
    // when interpolated_scale_aspect_ratio > 0, one more. With fixed_anchor_size only their count
    // matters (every anchor is w = h = 1).
    let perCell = 0;
    let last = layer;
    while (last < n && m.strides[last] === m.strides[layer]) {
      layerScale(last, n); // scales are unused with fixed_anchor_size
      perCell += 1 + (m.interp > 0 ? 1 : 0);
      last++;
    }
    const fh = Math.ceil(m.size / m.strides[layer]);
    const fw = Math.ceil(m.size / m.strides[layer]);
    for (let y = 0; y < fh; y++)
      for (let x = 0; x < fw; x++)
        for (let a = 0; a < perCell; a++)
          anchors.push({ xc: (x + ANCHOR_OFFSET) / fw, yc: (y + ANCHOR_OFFSET) / fh, w: 1, h: 1 });
    layer = last;
  }
  if (anchors.length !== m.numBoxes) throw new Error(`${m.file}: ${anchors.length} anchors, expected ${m.numBoxes}`);
  return anchors;
}

// ---- TensorsToDetectionsCalculator (reverse_output_order: XYWH, sigmoid, clipping) ----
function decode(m, anchors, raw, logits) {
  const dets = [];
  for (let i = 0; i < m.numBoxes; i++) {
    const a = anchors[i];
    const r = raw.subarray(i * NUM_COORDS, (i + 1) * NUM_COORDS);
    let s = logits[i];
    s = Math.min(SCORE_CLIP, Math.max(-SCORE_CLIP, s));
    s = 1 / (1 + Math.exp(-s));
    if (s < SCORE_THRESH) continue;
    const xc = r[0] / m.scale * a.w + a.xc;
    const yc = r[1] / m.scale * a.h + a.yc;
    const w = r[2] / m.scale * a.w;
    const h = r[3] / m.scale * a.h;
    const xmin = xc - w / 2, ymin = yc - h / 2, xmax = xc + w / 2, ymax = yc + h / 2;
    const bw = xmax - xmin, bh = ymax - ymin;
    if (!(bw >= 0) || !(bh >= 0)) continue; // negative or NaN sizes are dropped
    const kp = [];
    for (let k = 0; k < NUM_KP; k++) {
      const o = KP_OFFSET + 2 * k;
      kp.push([r[o] / m.scale * a.w + a.xc, r[o + 1] / m.scale * a.h + a.yc]);
    }
    dets.push({ index: i, score: s, xmin, ymin, w: bw, h: bh, kp });
  }
  return dets;
}

// ---- NonMaxSuppressionCalculator: WEIGHTED, INTERSECTION_OVER_UNION ----
function overlap(a, b) {
  // Rectangle_f semantics: empty when min > max; no intersection when disjoint.
  const ax1 = a.xmin + a.w, ay1 = a.ymin + a.h, bx1 = b.xmin + b.w, by1 = b.ymin + b.h;
  if (a.w < 0 || a.h < 0 || b.w < 0 || b.h < 0) return 0;
  if (bx1 < a.xmin || ax1 < b.xmin || by1 < a.ymin || ay1 < b.ymin) return 0;
  const iw = Math.min(ax1, bx1) - Math.max(a.xmin, b.xmin);
  const ih = Math.min(ay1, by1) - Math.max(a.ymin, b.ymin);
  const inter = iw * ih;
  const norm = a.w * a.h + b.w * b.h - inter;
  return norm > 0 ? inter / norm : 0;
}
function weightedNms(dets) {
  let remaining = dets.map((d, i) => ({ d, i })).sort((p, q) => q.d.score - p.d.score || p.i - q.i);
  const out = [];
  while (remaining.length) {
    const top = remaining[0].d;
    const cands = [], rest = [];
    for (const e of remaining) (overlap(e.d, top) > NMS_THRESH ? cands : rest).push(e);
    const res = { score: top.score, xmin: top.xmin, ymin: top.ymin, w: top.w, h: top.h, kp: top.kp.map((p) => p.slice()) };
    if (cands.length) {
      let tot = 0, x0 = 0, y0 = 0, x1 = 0, y1 = 0;
      const kp = top.kp.map(() => [0, 0]);
      for (const { d } of cands) {
        tot += d.score;
        x0 += d.xmin * d.score;
        y0 += d.ymin * d.score;
        x1 += (d.xmin + d.w) * d.score;
        y1 += (d.ymin + d.h) * d.score;
        d.kp.forEach((p, k) => { kp[k][0] += p[0] * d.score; kp[k][1] += p[1] * d.score; });
      }
      res.xmin = x0 / tot;
      res.ymin = y0 / tot;
      res.w = x1 / tot - res.xmin;
      res.h = y1 / tot - res.ymin;
      res.kp = kp.map(([x, y]) => [x / tot, y / tot]);
    }
    out.push(res);
    if (rest.length === remaining.length) break; // nothing suppressed (degenerate top box)
    remaining = rest;
  }
  return out;
}

// ---- ImageToTensor's ROI (whole image, PadRoi to the square tensor) and the projection back ----
function letterboxRoi(W, H) {
  const L = Math.max(W, H); // tensor aspect 1: pad the shorter side
  return { x0: W / 2 - L / 2, y0: H / 2 - L / 2, L };
}
function project(roi, d) {
  const px = (x) => roi.x0 + x * roi.L, py = (y) => roi.y0 + y * roi.L;
  const r6 = (v) => Math.round(v * 1e4) / 1e4;
  return {
    box: [px(d.xmin), py(d.ymin), d.w * roi.L, d.h * roi.L].map(r6),
    score: Math.round(d.score * 1e6) / 1e6,
    keypoints: d.kp.map(([x, y]) => [r6(px(x)), r6(py(y))]),
  };
}

// ---- The page: decode, letterbox, run the interpreter, post the raw outputs ----
const PAGE = `<!doctype html><html><head>
<script src="/tf-core.js"></script>
<script src="/tf-backend-cpu.js"></script>
<script src="/tf-tflite.js"></script>
</head><body><script>
${PAGE_HELPERS}
// Letterboxed model input (1, S, S, 3), RGB, u / 127.5 - 1, from RGBA pixels (H, W, 4).
function letterbox(px, W, H, S, sampling, border) {
  const L = Math.max(W, H), x0 = W / 2 - L / 2, y0 = H / 2 - L / 2, step = L / S;
  const out = new Float32Array(S * S * 3);
  // Bilinear taps along one axis for output index j: [i0, i1, w1] (taps outside the image read
  // 0 unless clamped), or null when the output pixel is border (0).
  function taps(j, origin, n) {
    // sample position in pixel-centre coordinates (pixel k is centred on k)
    let c = sampling === 'half' ? origin + (j + 0.5) * step - 0.5 : origin + j * step;
    if (border === 'clamp') { // WebGL custom zero border: texcoord outside [0, 1] is 0, else clamp to edge
      if (c + 0.5 < 0 || c + 0.5 > n) return null;
      c = Math.min(Math.max(c, 0), n - 1);
      const i0 = Math.floor(c);
      return [i0, Math.min(i0 + 1, n - 1), c - i0];
    }
    if (c <= -1 || c >= n) return null; // every tap outside
    const i0 = Math.floor(c);
    return [i0, i0 + 1, c - i0];
  }
  const tx = [], ty = [];
  for (let j = 0; j < S; j++) { tx.push(taps(j, x0, W)); ty.push(taps(j, y0, H)); }
  const at = (y, x, ch) => (x < 0 || y < 0 || x >= W || y >= H ? 0 : px[(y * W + x) * 4 + ch]);
  for (let i = 0; i < S; i++)
    for (let j = 0; j < S; j++)
      for (let ch = 0; ch < 3; ch++) {
        let v = 0;
        const a = ty[i], b = tx[j];
        if (a && b) {
          const top = at(a[0], b[0], ch) * (1 - b[2]) + at(a[0], b[1], ch) * b[2];
          const bot = at(a[1], b[0], ch) * (1 - b[2]) + at(a[1], b[1], ch) * b[2];
          v = top * (1 - a[2]) + bot * a[2];
        }
        out[(i * S + j) * 3 + ch] = v / 127.5 - 1;
      }
  return out;
}
main(async () => {
  const job = await (await fetch('/job.json')).json();
  tflite.setWasmPath('/tflite-wasm/');
  await tf.setBackend('cpu');
  const models = {};
  for (const [key, m] of Object.entries(job.models)) {
    models[key] = await tflite.loadTFLiteModel(await getBin('/model/' + m.file), { numThreads: 1 });
    await post('/result/' + key + '/outputs', JSON.stringify(models[key].outputs.map((o) => ({ name: o.name, shape: o.shape }))));
  }
  for (const name of job.samples) {
    const blob = new Blob([await getBin('/sample/' + name)], { type: 'image/jpeg' });
    const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' });
    const W = bmp.width, H = bmp.height;
    const cv = new OffscreenCanvas(W, H);
    const g = cv.getContext('2d', { willReadFrequently: true, colorSpace: 'srgb' });
    g.drawImage(bmp, 0, 0);
    const px = g.getImageData(0, 0, W, H).data;
    await post('/result/' + name + '/dims', JSON.stringify([W, H]));
    let sum = 0;
    for (let i = 0; i < px.length; i += 4) sum += px[i] + px[i + 1] + px[i + 2];
    await log(name + ': ' + W + 'x' + H + ', mean RGB ' + (sum / (W * H * 3)).toFixed(3));
    for (const [key, m] of Object.entries(job.models)) {
      const x = letterbox(px, W, H, m.size, job.sampling, job.border);
      const input = tf.tensor(x, [1, m.size, m.size, 3], 'float32');
      let outs = models[key].predict(input);
      if (outs instanceof tf.Tensor) outs = [outs];
      else if (!Array.isArray(outs)) outs = models[key].outputs.map((o) => outs[o.name]);
      for (let i = 0; i < outs.length; i++) {
        await post('/result/' + name + '/' + key + '/' + i + '/shape', JSON.stringify(outs[i].shape));
        await post('/result/' + name + '/' + key + '/' + i, new Float32Array(await outs[i].data()).buffer);
      }
      tf.dispose([input, ...outs]);
    }
  }
});
</script></body></html>`;

(async () => {
  const outFile = process.argv[2] || path.join(fx.FIXTURES, 'blazeface_boxes.json');
  if (SAMPLING !== 'half' && SAMPLING !== 'opencv') throw new Error(`EMO_REF_SAMPLING=${SAMPLING}: half or opencv`);
  if (BORDER !== 'zero' && BORDER !== 'clamp') throw new Error(`EMO_REF_BORDER=${BORDER}: zero or clamp`);
  const routes = {
    '/index.html': { body: PAGE, type: 'text/html' },
    '/tf-core.js': { file: path.join(NM, '@tensorflow/tfjs-core/dist/tf-core.min.js') },
    '/tf-backend-cpu.js': { file: path.join(NM, '@tensorflow/tfjs-backend-cpu/dist/tf-backend-cpu.min.js') },
    '/tf-tflite.js': { file: path.join(NM, '@tensorflow/tfjs-tflite/dist/tf-tflite.min.js') },
    '/tflite-wasm/': { dir: path.join(NM, '@tensorflow/tfjs-tflite/wasm') },
  };
  if (!fs.existsSync(routes['/tf-tflite.js'].file)) {
    console.error(`tfjs-tflite not found under ${NM}: run tools/ref/setup.sh first`);
    process.exit(1);
  }
  for (const m of Object.values(MODELS)) routes['/model/' + m.file] = { file: fx.needModel(m.file) };
  for (const s of SAMPLES) routes['/sample/' + s] = { file: fx.needModel(s) };
  const job = { samples: SAMPLES, sampling: SAMPLING, border: BORDER, models: {} };
  for (const [k, m] of Object.entries(MODELS)) job.models[k] = { file: m.file, size: m.size };
  routes['/job.json'] = { body: JSON.stringify(job), type: 'application/json' };

  const res = await runInChromium(routes, { timeoutMs: 600000 });
  const version = (p) => JSON.parse(fs.readFileSync(path.join(NM, p, 'package.json'), 'utf8')).version;
  const chromiumVersion = (() => {
    try {
      return require('child_process').execFileSync(process.env.CHROMIUM || '/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).trim();
    } catch (e) { return 'unknown'; }
  })();
  const anchors = {};
  for (const [k, m] of Object.entries(MODELS)) anchors[k] = ssdAnchors(m);
  const photos = [];
  for (const name of SAMPLES) {
    const [W, H] = JSON.parse(res.get(`${name}/dims`).toString());
    const roi = letterboxRoi(W, H);
    const entry = { name, width: W, height: H, models: {} };
    for (const [k, m] of Object.entries(MODELS)) {
      const outputs = JSON.parse(res.get(`${k}/outputs`).toString());
      let raw = null, logits = null;
      outputs.forEach((o, i) => {
        const shape = JSON.parse(res.get(`${name}/${k}/${i}/shape`).toString());
        const b = res.get(`${name}/${k}/${i}`);
        const data = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
        if (shape[shape.length - 1] === NUM_COORDS && data.length === m.numBoxes * NUM_COORDS) raw = data;
        else if (shape[shape.length - 1] === 1 && data.length === m.numBoxes) logits = data;
        else throw new Error(`${m.file}: unexpected output ${o.name} (${shape})`);
      });
      if (!raw || !logits) throw new Error(`${m.file}: outputs ${JSON.stringify(outputs)}`);
      const dets = weightedNms(decode(m, anchors[k], raw, logits)).map((d) => project(roi, d));
      entry.models[k] = dets;
      console.log(`${name} ${W}x${H} ${k}: ${dets.length} faces`
        + dets.map((d) => `\n  box [${d.box.map((v) => v.toFixed(1))}] score ${d.score.toFixed(4)}`).join(''));
    }
    photos.push(entry);
  }
  const doc = {
    format: 'emo-blazeface-boxes',
    version: 1,
    info: {
      tool: 'tools/ref/blazeface_boxes.cjs',
      runtime: `@tensorflow/tfjs-tflite ${version('@tensorflow/tfjs-tflite')} (TFLite WASM, 1 thread) on @tensorflow/tfjs-core ${version('@tensorflow/tfjs-core')}`,
      browser: chromiumVersion,
      decoder: 'Chromium createImageBitmap (colorSpaceConversion none) + canvas getImageData',
      letterbox: 'keep_aspect_ratio (square ROI about the image centre), bilinear '
        + (SAMPLING === 'half' ? 'at pixel centres: src = x0 + (j+0.5)*L/S - 0.5' : 'at src = x0 + j*L/S (cv::warpPerspective from boxPoints corners)')
        + (BORDER === 'zero' ? ', BORDER_ZERO: taps outside the image read 0 (GL_CLAMP_TO_BORDER / cv::BORDER_CONSTANT)'
          : ', BORDER_ZERO as WebGL custom border: texcoord outside [0, 1] is 0, taps clamped to the edge')
        + ', values u/127.5-1',
      postprocess: 'MediaPipe face_detection graph: SSD anchors (fixed size), XYWH decode /scale, score clip 100 + sigmoid, '
        + `min_score_thresh ${SCORE_THRESH}, weighted NMS IoU ${NMS_THRESH}, projection to image pixels`,
      score_threshold: SCORE_THRESH,
      nms_threshold: NMS_THRESH,
      models: Object.fromEntries(Object.entries(MODELS).map(([k, m]) => [k, m.file])),
      coordinates: 'image pixels, pixel-edge convention (image spans [0, W] x [0, H]); box = [x, y, w, h]',
    },
    photos,
  };
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  // One detection a line, so that a diff of a regenerated file is readable.
  const photoText = (ph) => `  { "name": ${JSON.stringify(ph.name)}, "width": ${ph.width}, "height": ${ph.height}, "models": {\n`
    + Object.entries(ph.models).map(([k, dets]) => `    ${JSON.stringify(k)}: [`
      + dets.map((d) => `\n      ${JSON.stringify(d)}`).join(',') + (dets.length ? '\n    ]' : ']')).join(',\n')
    + '\n  } }';
  const head = JSON.stringify({ ...doc, photos: [] }, null, 1).replace(/"photos": \[\]\n}$/, '');
  fs.writeFileSync(outFile, `${head}"photos": [\n${photos.map(photoText).join(',\n')}\n]}\n`);
  JSON.parse(fs.readFileSync(outFile, 'utf8')); // stays valid JSON
  console.log(`wrote ${path.relative(process.cwd(), outFile)}`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
