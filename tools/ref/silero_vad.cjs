// silero_vad.cjs: reference per-window speech probabilities of Silero VAD v5
// (silero_vad_v5.onnx from @ricky0123/vad-web, in the model cache) computed by ONNX Runtime
// (onnxruntime-node 1.30.0, CPU execution provider), written to tests/fixtures/silero_vad.fix
// for tests/test_vad.c.
//
// The input is a 16 kHz mono 16-bit PCM WAV (the committed fixture was made with
//   espeak-ng -v en -s 160 -w speech.wav "Hello. Testing voice activity."
//   sox speech.wav -r 16000 -c 1 -b 16 in.wav gain -3 pad 0.4 0.5 ).
// Windows follow silero-vad's OnnxWrapper (utils_vad.py): 512 new samples per call, prefixed
// by the last 64 samples of the previous call's input (zeros at the start), state (2,1,128)
// carried from call to call (zeros at the start), sr = 16000; the final partial window is
// zero-padded. Samples are int16 / 32768 in float32.
//
// Fixture tensors: "info" (uint8 text), "audio.s16le" uint8 (n, 2) little-endian int16
// samples, "probs" float32 (n_windows), "state.last" float32 (2, 1, 128) after the last window.
//
// Usage: npm install --ignore-scripts onnxruntime-node@1.30.0 in $EMO_REF_DIR (/tmp/emo-ref),
//        node tools/ref/silero_vad.cjs in.wav
'use strict';
const fs = require('fs');
const path = require('path');
const { REF_DIR, MODELS, FIXTURES, writeFixture } = require('./fixture.cjs');

const ort = require(path.join(REF_DIR, 'node_modules', 'onnxruntime-node'));

function readWav16(file) {
  const b = fs.readFileSync(file);
  if (b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WAVE') throw new Error('not a WAV');
  let off = 12, fmt = null, data = null;
  while (off + 8 <= b.length) {
    const id = b.toString('latin1', off, off + 4), len = b.readUInt32LE(off + 4);
    if (id === 'fmt ') fmt = { ch: b.readUInt16LE(off + 10), rate: b.readUInt32LE(off + 12), bits: b.readUInt16LE(off + 22) };
    if (id === 'data') data = b.subarray(off + 8, off + 8 + len);
    off += 8 + len + (len & 1);
  }
  if (!fmt || !data || fmt.ch !== 1 || fmt.rate !== 16000 || fmt.bits !== 16) throw new Error('need 16 kHz mono 16-bit');
  const n = data.length >> 1, s = new Int16Array(n);
  for (let i = 0; i < n; i++) s[i] = data.readInt16LE(2 * i);
  return s;
}

async function main() {
  const wav = process.argv[2];
  if (!wav) throw new Error('usage: node tools/ref/silero_vad.cjs in.wav');
  const model = path.join(MODELS, process.env.SILERO_FILE || 'silero_vad_v5.onnx');
  const sess = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  const s16 = readWav16(wav);
  const W = 512, C = 64;
  const nWin = Math.ceil(s16.length / W);
  let state = new Float32Array(2 * 128);
  let ctx = new Float32Array(C);
  const probs = new Float32Array(nWin);
  const sr = new ort.Tensor('int64', BigInt64Array.from([16000n]), []);
  for (let w = 0; w < nWin; w++) {
    const x = new Float32Array(C + W);
    x.set(ctx, 0);
    for (let i = 0; i < W; i++) {
      const k = w * W + i;
      x[C + i] = k < s16.length ? Math.fround(s16[k] / 32768) : 0;
    }
    const out = await sess.run({
      input: new ort.Tensor('float32', x, [1, C + W]),
      state: new ort.Tensor('float32', state, [2, 1, 128]),
      sr,
    });
    probs[w] = out.output.data[0];
    state = Float32Array.from(out.stateN.data);
    ctx = x.slice(W, W + C);
  }
  const bytes = new Uint8Array(s16.buffer.slice(0));
  const info = `onnxruntime-node 1.30.0 (CPU EP, 1 thread), ${path.basename(model)} from @ricky0123/vad-web 0.0.31; ` +
    `input ${path.basename(wav)} (${s16.length} samples); OnnxWrapper windows 512 + 64 context, sr 16000`;
  writeFixture(path.join(FIXTURES, 'silero_vad.fix'), [
    { name: 'info', dtype: 'uint8', dims: [Buffer.byteLength(info)], data: new Uint8Array(Buffer.from(info)) },
    { name: 'audio.s16le', dtype: 'uint8', dims: [s16.length, 2], data: bytes },
    { name: 'probs', dtype: 'float32', dims: [nWin], data: probs },
    { name: 'state.last', dtype: 'float32', dims: [2, 1, 128], data: state },
  ]);
  console.log('probs', Array.from(probs).map((p) => p.toFixed(3)).join(' '));
}
main().catch((e) => { console.error(e); process.exit(1); });
