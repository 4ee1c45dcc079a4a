// tfjs_models.cjs: reference outputs of the two TensorFlow.js expression models, computed by
// TensorFlow.js 4.22.0 itself on its pure-JS CPU backend, written to tests/fixtures/:
//   fer_emotion.fix         human's FER-2013 mini-Xception graph model (emotion.json + .bin),
//                           loaded with tf.loadGraphModel from memory (no network);
//   faceapi_expression.fix  face-api 1.7.15's FaceExpressionNet, run by face-api's own code
//                           (weights loaded from disk by faceExpressionNet.loadFromDisk).
// Inputs are random images from a seeded PRNG (fixture.cjs), stored in the fixtures.
// Needs: tools/ref/setup.sh (runtimes in $EMO_REF_DIR, default /tmp/emo-ref) and the models in
// the cache ($EMO_MODELS, default ~/.cache/emo/models). Usage: node tools/ref/tfjs_models.cjs
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');
const fx = require('./fixture.cjs');

const req = createRequire(path.join(fx.REF_DIR, 'tfjs', 'package.json'));
let faceapi;
try {
  // face-api's Node build for tfjs + WASM; it re-exports the one @tensorflow/tfjs instance.
  faceapi = req('@vladmandic/face-api/dist/face-api.node-wasm.js');
} catch (e) {
  console.error(`cannot load the reference runtimes from ${fx.REF_DIR}/tfjs: run tools/ref/setup.sh first\n${e.message}`);
  process.exit(1);
}
const tf = faceapi.tf;

// Reads a TF.js weights manifest's .bin files (in manifest order) into one ArrayBuffer.
function readWeights(dir, manifest) {
  const specs = [];
  const bufs = [];
  for (const group of manifest) {
    for (const p of group.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
    specs.push(...group.weights);
  }
  const all = Buffer.concat(bufs);
  return { specs, data: all.buffer.slice(all.byteOffset, all.byteOffset + all.length) };
}

async function ferEmotion() {
  const file = fx.needModel('emotion.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  const w = readWeights(path.dirname(file), json.weightsManifest);
  const model = await tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs: w.specs, weightData: w.data,
    format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy,
  }));
  const inName = model.inputs[0].name;
  const outNames = model.outputs.map((o) => o.name);
  // human (src/gear/emotion.ts) feeds (gray - 0.5) * 2 with gray = 0.2989 R + 0.5870 G +
  // 0.1140 B of the RGB face crop in [0, 1], i.e. a value in [-1, 1]: map u8 -> u * 2/255 - 1.
  const scale = 2 / 255, offset = -1, f = 2;
  const tensors = [fx.infoTensor(
    `fer_emotion: human 3.3.6 models/emotion.json run by @tensorflow/tfjs ${tf.version_core} `
    + `backend ${tf.getBackend()}; input ${inName} (1,64,64,1) = (gray - 0.5) * 2; outputs ${outNames.join(', ')}`)];
  for (let k = 0; k < 3; k++) {
    const img = fx.randomImageU8(1000 + k, 32, 32, 1);
    const x = fx.expandInput(img, f, scale, offset);
    const input = tf.tensor(x.data, x.dims, 'float32');
    let outs = model.execute({ [inName]: input }, outNames);
    if (!Array.isArray(outs)) outs = [outs];
    tensors.push({ name: `s${k}.input`, dtype: 'uint8', dims: img.dims, data: img.data });
    tensors.push({ name: `s${k}.map`, dtype: 'float32', dims: [2], data: new Float32Array([scale, offset]) });
    outs.forEach((o, i) => tensors.push({ name: `s${k}.out${i}`, dtype: 'float32', dims: o.shape, data: o.dataSync() }));
    console.log(`fer_emotion s${k}:`, Array.from(outs[0].dataSync()).map((v) => v.toFixed(4)).join(' '));
    tf.dispose([input, ...outs]);
  }
  fx.writeFixture(path.join(fx.FIXTURES, 'fer_emotion.fix'), tensors);
}

async function faceapiExpression() {
  const manifest = fx.needModel('face_expression_model-weights_manifest.json');
  fx.needModel('face_expression_model.bin');
  const net = faceapi.nets.faceExpressionNet;
  await net.loadFromDisk(path.dirname(manifest));
  // face-api takes the face crop as a (1,112,112,3) RGB tensor of 0..255 values; internally
  // (FaceFeatureExtractor.forwardInput) it pads to square and resizes to 112 (both no-ops for a
  // 112x112 input), subtracts the mean RGB (122.782, 117.001, 104.298) and divides by 255, runs
  // the dense blocks, a 7x7 stride-2 average pool and the fully connected layer (runNet:
  // logits); FaceExpressionNet.forward then applies softmax. So the raw input is u * 1 + 0.
  const scale = 1, offset = 0, f = 2;
  const tensors = [fx.infoTensor(
    `faceapi_expression: @vladmandic/face-api ${faceapi.version} FaceExpressionNet on @tensorflow/tfjs `
    + `${tf.version_core} backend ${tf.getBackend()}; input (1,112,112,3) RGB 0..255 (face-api subtracts `
    + 'mean 122.782,117.001,104.298 and divides by 255 inside); out0 = logits (runNet), out1 = softmax (forward)')];
  for (let k = 0; k < 3; k++) {
    const img = fx.randomImageU8(2000 + k, 56, 56, 3);
    const x = fx.expandInput(img, f, scale, offset);
    const input = tf.tensor(x.data, x.dims, 'float32');
    const logits = net.runNet(await faceapi.toNetInput(input));
    const probs = await net.forward(input);
    tensors.push({ name: `s${k}.input`, dtype: 'uint8', dims: img.dims, data: img.data });
    tensors.push({ name: `s${k}.map`, dtype: 'float32', dims: [2], data: new Float32Array([scale, offset]) });
    tensors.push({ name: `s${k}.out0`, dtype: 'float32', dims: logits.shape, data: logits.dataSync() });
    tensors.push({ name: `s${k}.out1`, dtype: 'float32', dims: probs.shape, data: probs.dataSync() });
    console.log(`faceapi_expression s${k}:`, Array.from(probs.dataSync()).map((v) => v.toFixed(4)).join(' '));
    tf.dispose([input, logits, probs]);
  }
  fx.writeFixture(path.join(fx.FIXTURES, 'faceapi_expression.fix'), tensors);
}

(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  if (tf.getBackend() !== 'cpu') throw new Error('the tfjs CPU backend is not active');
  await ferEmotion();
  await faceapiExpression();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
