// tflite_models.cjs: reference raw outputs of MediaPipe's BlazeFace TFLite models, computed
// by the TFLite interpreter itself (@tensorflow/tfjs-tflite 0.0.1-alpha.10: TFLite's C++
// runtime compiled to WebAssembly, single-threaded) in headless Chromium, written to
//   tests/fixtures/blazeface_short.fix   face_detection_short_range.tflite, 2 samples (1,128,128,3)
//   tests/fixtures/blazeface_full.fix    face_detection_full_range.tflite,  2 samples (1,192,192,3)
// Inputs: random RGB images from a seeded PRNG (fixture.cjs) mapped to [-1, 1] (u / 127.5 - 1,
// MediaPipe's normalisation); outputs in the model's output order (regressors, classificators).
// Needs tools/ref/setup.sh, a Chromium (/usr/bin/chromium or $CHROMIUM) and the models in the
// cache ($EMO_MODELS, default ~/.cache/emo/models). Usage: node tools/ref/tflite_models.cjs
'use strict';

const fs = require('fs');
const path = require('path');
const fx = require('./fixture.cjs');
const { runInChromium, PAGE_HELPERS } = require('./web_run.cjs');

const NM = path.join(fx.REF_DIR, 'web', 'node_modules');
const JOBS = [
  { key: 'blazeface_short', file: 'face_detection_short_range.tflite', low: 64, f: 2, seeds: [3000, 3001] },
  { key: 'blazeface_full', file: 'face_detection_full_range.tflite', low: 48, f: 4, seeds: [4000, 4001] },
];
const SCALE = 1 / 127.5, OFFSET = -1;

const PAGE = `<!doctype html><html><head>
<script src="/tf-core.js"></script>
<script src="/tf-backend-cpu.js"></script>
<script src="/tf-tflite.js"></script>
</head><body><script>
${PAGE_HELPERS}
main(async () => {
  const jobs = await (await fetch('/jobs.json')).json();
  tflite.setWasmPath('/tflite-wasm/');
  await tf.setBackend('cpu');
  for (const job of jobs) {
    const model = await tflite.loadTFLiteModel(await getBin('/model/' + job.file), { numThreads: 1 });
    const outNames = model.outputs.map((o) => o.name);
    await post('/result/' + job.key + '/outputs', JSON.stringify(model.outputs.map((o) => ({ name: o.name, shape: o.shape }))));
    await log(job.key + ': inputs ' + JSON.stringify(model.inputs.map((o) => [o.name, o.shape])) + ' outputs ' + JSON.stringify(outNames));
    for (let k = 0; k < job.n; k++) {
      const x = new Float32Array(await getBin('/input/' + job.key + '/' + k));
      const input = tf.tensor(x, job.dims, 'float32');
      let outs = model.predict(input);
      if (outs instanceof tf.Tensor) outs = [outs];
      else if (!Array.isArray(outs)) outs = outNames.map((n) => outs[n]);
      for (let i = 0; i < outs.length; i++) {
        await post('/result/' + job.key + '/' + k + '/' + i + '/shape', JSON.stringify(outs[i].shape));
        await post('/result/' + job.key + '/' + k + '/' + i, new Float32Array(await outs[i].data()).buffer);
      }
      tf.dispose([input, ...outs]);
    }
  }
});
</script></body></html>`;

(async () => {
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
  const jobs = [];
  const samples = {};
  for (const job of JOBS) {
    routes['/model/' + job.file] = { file: fx.needModel(job.file) };
    samples[job.key] = job.seeds.map((seed, k) => {
      const img = fx.randomImageU8(seed, job.low, job.low, 3);
      const x = fx.expandInput(img, job.f, SCALE, OFFSET);
      routes[`/input/${job.key}/${k}`] = { body: Buffer.from(x.data.buffer) };
      return { img, dims: x.dims };
    });
    jobs.push({ key: job.key, file: job.file, n: job.seeds.length, dims: samples[job.key][0].dims });
  }
  routes['/jobs.json'] = { body: JSON.stringify(jobs), type: 'application/json' };
  const res = await runInChromium(routes);
  const tfliteVersion = JSON.parse(fs.readFileSync(path.join(NM, '@tensorflow/tfjs-tflite/package.json'), 'utf8')).version;
  for (const job of jobs) {
    const outputs = JSON.parse(res.get(`${job.key}/outputs`).toString());
    const tensors = [fx.infoTensor(
      `${job.key}: ${job.file} run by @tensorflow/tfjs-tflite ${tfliteVersion} (TFLite WASM, 1 thread) in headless `
      + `Chromium; input (${job.dims}) RGB = u / 127.5 - 1; outputs ${outputs.map((o) => `${o.name} (${o.shape})`).join(', ')}`)];
    samples[job.key].forEach((s, k) => {
      tensors.push({ name: `s${k}.input`, dtype: 'uint8', dims: s.img.dims, data: s.img.data });
      tensors.push({ name: `s${k}.map`, dtype: 'float32', dims: [2], data: new Float32Array([SCALE, OFFSET]) });
      outputs.forEach((o, i) => {
        const buf = res.get(`${job.key}/${k}/${i}`);
        const shape = JSON.parse(res.get(`${job.key}/${k}/${i}/shape`).toString());
        const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
        tensors.push({ name: `s${k}.out${i}`, dtype: 'float32', dims: shape, data });
        let mx = -Infinity;
        for (const v of data) mx = Math.max(mx, v);
        console.log(`${job.key} s${k} out${i} ${o.name} (${shape}): max ${mx.toFixed(4)}`);
      });
    });
    fx.writeFixture(path.join(fx.FIXTURES, `${job.key}.fix`), tensors);
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
