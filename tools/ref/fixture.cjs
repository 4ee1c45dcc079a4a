// fixture.cjs: shared helpers of the reference scripts in tools/ref/: the writer of emo's
// fixture files (format: tests/fixture.h, version 1), the seeded PRNG that makes the random
// inputs, the float32 input map the C test repeats bit for bit, and the paths (model cache,
// scratch folder with the reference runtimes, output folder). Running models is left to the
// scripts that require this file.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(REPO, 'tests', 'fixtures');
const MODELS = process.env.EMO_MODELS || path.join(os.homedir(), '.cache', 'emo', 'models');
const REF_DIR = process.env.EMO_REF_DIR || '/tmp/emo-ref';

// mulberry32: a small, well-known 32-bit PRNG; deterministic across Node versions.
function prng(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// A random uint8 image (1, h, w, c). Values are a smooth random field plus noise, so that the
// image has structure at several scales (pure white noise barely exercises a network).
function randomImageU8(seed, h, w, c) {
  const rnd = prng(seed);
  const data = new Uint8Array(h * w * c);
  const waves = [];
  for (let i = 0; i < 4 * c; i++)
    waves.push({ fy: rnd() * 0.3, fx: rnd() * 0.3, ph: rnd() * 6.283, amp: 30 + 40 * rnd() });
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ch = 0; ch < c; ch++) {
        let v = 128;
        for (let k = 0; k < 4; k++) {
          const wv = waves[ch * 4 + k];
          v += wv.amp * Math.sin(wv.fy * y + wv.fx * x + wv.ph) / 2;
        }
        v += (rnd() - 0.5) * 80;
        data[(y * w + x) * c + ch] = Math.max(0, Math.min(255, Math.round(v)));
      }
  return { dims: [1, h, w, c], data };
}

// The model input (1, f*h, f*w, c) for a low-resolution uint8 image and a map (scale, offset),
// computed exactly as the C test does in float32: fround(fround(u * scale) + offset).
function expandInput(img, f, scale, offset) {
  const [, h, w, c] = img.dims;
  const H = h * f, W = w * f;
  const s = Math.fround(scale), o = Math.fround(offset);
  const out = new Float32Array(H * W * c);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let ch = 0; ch < c; ch++) {
        const u = img.data[((Math.floor(y / f)) * w + Math.floor(x / f)) * c + ch];
        out[(y * W + x) * c + ch] = Math.fround(Math.fround(u * s) + o);
      }
  return { dims: [1, H, W, c], data: out };
}

// tensors: array of { name, dtype: 'float32' | 'uint8', dims: [...], data: TypedArray }.
function writeFixture(file, tensors) {
  const parts = [];
  const u32 = (v) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0, 0);
    parts.push(b);
  };
  parts.push(Buffer.from('EMOFIX\0\0', 'latin1'));
  u32(1);
  u32(tensors.length);
  const seen = new Set();
  for (const t of tensors) {
    if (seen.has(t.name)) throw new Error(`duplicate tensor name ${t.name}`);
    seen.add(t.name);
    const name = Buffer.from(t.name, 'utf8');
    if (name.length < 1 || name.length > 255) throw new Error(`bad name ${t.name}`);
    const numel = t.dims.reduce((a, b) => a * b, 1);
    if (t.data.length !== numel) throw new Error(`${t.name}: ${t.data.length} values, dims ${t.dims}`);
    if (t.dims.length > 6) throw new Error(`${t.name}: rank > 6`);
    u32(name.length);
    parts.push(name);
    u32(t.dtype === 'uint8' ? 1 : 0);
    u32(t.dims.length);
    for (const d of t.dims) u32(d);
    if (t.dtype === 'uint8') {
      parts.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.length));
    } else {
      const b = Buffer.alloc(4 * numel);
      for (let i = 0; i < numel; i++) b.writeFloatLE(t.data[i], 4 * i);
      parts.push(b);
    }
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const all = Buffer.concat(parts);
  fs.writeFileSync(file, all);
  console.log(`wrote ${path.relative(REPO, file)} (${all.length} bytes, ${tensors.length} tensors)`);
}

function infoTensor(text) {
  return { name: 'info', dtype: 'uint8', dims: [Buffer.byteLength(text)], data: new Uint8Array(Buffer.from(text, 'utf8')) };
}

function needModel(name) {
  const p = path.join(MODELS, name);
  if (!fs.existsSync(p)) {
    console.error(`missing model file ${p}: run \`emo models fetch\` or set EMO_MODELS`);
    process.exit(1);
  }
  return p;
}

module.exports = { REPO, FIXTURES, MODELS, REF_DIR, prng, randomImageU8, expandInput, writeFixture, infoTensor, needModel };
