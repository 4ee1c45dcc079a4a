#!/usr/bin/env python3
"""test_wav2vec2_convert.py: checks tools/wav2vec2_convert.py on fake checkpoints.

Builds tiny torchaudio Wav2Vec2Models, renames their state dicts into Hugging Face
(Wav2Vec2ForSequenceClassification) and speechbrain (IEMOCAP recipe) naming, with the
positional conv's weight norm split as weight_g/weight_v or as parametrizations, writes the
checkpoint directories (config.json, preprocessor_config.json, pytorch_model.bin or
model.safetensors; hyperparams.yaml, wav2vec2.ckpt, model.ckpt, label_encoder.txt) into a
temporary folder, runs the converter and compares the resulting safetensors tensors and metadata
with the torchaudio ones. Also checks that bad inputs give clear errors.

Run: /usr/bin/python3 tools/test_wav2vec2_convert.py   (exit 0 pass, 1 fail, 77 skipped: no
PyTorch/torchaudio; CI machines have none, so there it prints why and skips).
"""
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import numpy as np
    import torch
    import torchaudio
except ImportError as e:
    print("test_wav2vec2_convert: skipped, needs PyTorch, torchaudio and numpy (%s)" % e)
    sys.exit(77)

import wav2vec2_convert as C  # noqa: E402

BASE = dict(extractor_mode="group_norm", conv_layers=[(8, 10, 5), (8, 3, 2), (8, 2, 2)], conv_bias=False,
            embed_dim=12, num_layers=2, num_heads=3, ff_dim=20, pos_conv_kernel=6, pos_conv_groups=2,
            layer_norm_first=False)
LARGE = dict(extractor_mode="layer_norm", conv_layers=[(8, 10, 5), (6, 3, 2)], conv_bias=True,
             embed_dim=16, num_layers=1, num_heads=4, ff_dim=24, pos_conv_kernel=5, pos_conv_groups=4,
             layer_norm_first=True)
HF_LABELS = ["angry", "calm", "disgust", "fearful", "happy"]
SB_LABELS = ["neu", "ang", "hap", "sad"]


def tiny(cfg, seed, head, n_labels, proj=7):
    """-> (torchaudio model, head tensors) with every parameter random."""
    torch.manual_seed(seed)
    m = torchaudio.models.wav2vec2_model(
        cfg["extractor_mode"], cfg["conv_layers"], cfg["conv_bias"], cfg["embed_dim"], 0.0,
        cfg["pos_conv_kernel"], cfg["pos_conv_groups"], cfg["num_layers"], cfg["num_heads"], 0.0,
        cfg["ff_dim"], 0.0, 0.0, cfg["layer_norm_first"], 0.0, None)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p))
    d = cfg["embed_dim"]
    if head == "hf_seqcls":
        h = {"head.projector.weight": torch.randn(proj, d), "head.projector.bias": torch.randn(proj),
             "head.classifier.weight": torch.randn(n_labels, proj), "head.classifier.bias": torch.randn(n_labels)}
    else:
        h = {"head.classifier.weight": torch.randn(n_labels, d)}
    return m.eval(), h


def expected(model, head):
    """The contract tensors the converter should produce (pos conv weight folded in float64)."""
    sd = model.state_dict()
    out = {}
    for k, v in sd.items():
        if k.endswith("weight_g") or k.endswith("weight_v"):
            continue
        out[k] = v.double()
    b = "encoder.transformer.pos_conv_embed.conv."
    out[b + "weight"] = torch._weight_norm(sd[b + "weight_v"].double(), sd[b + "weight_g"].double(), 2)
    out.update({k: v.double() for k, v in head.items()})
    return out


def hf_rename(sd, weight_norm="g_v"):
    """torchaudio names -> Wav2Vec2Model (Hugging Face) names, without a prefix."""
    out = {}
    for k, v in sd.items():
        if k.startswith("feature_extractor."):
            n = k
        elif k.startswith("encoder.feature_projection."):
            n = k[len("encoder."):]
        elif k.startswith("encoder.transformer."):
            n = "encoder." + k[len("encoder.transformer."):]
            if weight_norm == "param":
                n = n.replace("conv.weight_g", "conv.parametrizations.weight.original0")
                n = n.replace("conv.weight_v", "conv.parametrizations.weight.original1")
        else:
            raise AssertionError(k)
        out[n] = v.clone()
    return out


def hf_config(cfg, labels, proj=7, **extra):
    c = {
        "architectures": ["Wav2Vec2ForSequenceClassification"], "model_type": "wav2vec2",
        "conv_dim": [l[0] for l in cfg["conv_layers"]], "conv_kernel": [l[1] for l in cfg["conv_layers"]],
        "conv_stride": [l[2] for l in cfg["conv_layers"]], "conv_bias": cfg["conv_bias"],
        "feat_extract_norm": cfg["extractor_mode"].split("_")[0], "hidden_size": cfg["embed_dim"],
        "num_hidden_layers": cfg["num_layers"], "num_attention_heads": cfg["num_heads"],
        "intermediate_size": cfg["ff_dim"], "num_conv_pos_embeddings": cfg["pos_conv_kernel"],
        "num_conv_pos_embedding_groups": cfg["pos_conv_groups"],
        "do_stable_layer_norm": cfg["layer_norm_first"], "hidden_act": "gelu",
        "feat_extract_activation": "gelu", "use_weighted_layer_sum": False, "classifier_proj_size": proj,
        "layer_norm_eps": 1e-5, "id2label": {str(i): l for i, l in enumerate(labels)},
        "label2id": {l: i for i, l in enumerate(labels)}, "mask_time_prob": 0.05,
    }
    c.update(extra)
    return c


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def make_hf_dir(root, model, head, cfg, labels, weight_norm="g_v", fmt="bin", do_normalize=True, **extra):
    d = tempfile.mkdtemp(dir=root)
    sd = {"wav2vec2." + k: v for k, v in hf_rename(model.state_dict(), weight_norm).items()}
    sd["wav2vec2.masked_spec_embed"] = torch.rand(cfg["embed_dim"])
    sd["projector.weight"] = head["head.projector.weight"]
    sd["projector.bias"] = head["head.projector.bias"]
    sd["classifier.weight"] = head["head.classifier.weight"]
    sd["classifier.bias"] = head["head.classifier.bias"]
    if fmt == "bin":
        torch.save(sd, os.path.join(d, "pytorch_model.bin"))
    else:
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            C.write_safetensors(f, [(k, v.numpy().astype("<f4")) for k, v in sd.items()], {"format": "pt"})
    write_json(os.path.join(d, "config.json"), hf_config(cfg, labels, **extra))
    if do_normalize is not None:
        write_json(os.path.join(d, "preprocessor_config.json"),
                   {"do_normalize": do_normalize, "feature_size": 1, "sampling_rate": 16000})
    return d


SB_YAML = """# Generated by a test: the shape of speechbrain's emotion-recognition-wav2vec2-IEMOCAP
HPARAMS_NEEDED: ["encoder_dim", "out_n_neurons", "label_encoder", "softmax"]
MODULES_NEEDED: ["wav2vec2", "avg_pool", "output_mlp"]
wav2vec2_hub: {hub}
encoder_dim: {dim}
out_n_neurons: {n}

wav2vec2: !new:speechbrain.lobes.models.huggingface_wav2vec.HuggingFaceWav2Vec2
    source: !ref <wav2vec2_hub>
    output_norm: {onorm}
    freeze: True
    save_path: wav2vec2_checkpoints

avg_pool: !new:speechbrain.nnet.pooling.StatisticsPooling
    return_std: False

output_mlp: !new:speechbrain.nnet.linear.Linear
    input_size: !ref <encoder_dim>
    n_neurons: !ref <out_n_neurons>
    bias: False
"""


def make_sb_dir(root, model, head, cfg, labels, onorm="True", hub="facebook/wav2vec2-base",
                head_file="model.ckpt", head_key="0.w.weight", prefix="model.", extra_head=None):
    d = tempfile.mkdtemp(dir=root)
    sd = {prefix + k: v for k, v in hf_rename(model.state_dict()).items()}
    sd[prefix + "masked_spec_embed"] = torch.rand(cfg["embed_dim"])
    torch.save(sd, os.path.join(d, "wav2vec2.ckpt"))
    hsd = {head_key: head["head.classifier.weight"].clone()}
    hsd.update(extra_head or {})
    torch.save(hsd, os.path.join(d, head_file))
    with open(os.path.join(d, "hyperparams.yaml"), "w") as f:
        f.write(SB_YAML.format(hub=hub, dim=cfg["embed_dim"], n=len(labels), onorm=onorm))
    with open(os.path.join(d, "label_encoder.txt"), "w") as f:
        for i, l in enumerate(labels):
            f.write("'%s' => %d\n" % (l, i))
        f.write("================\n'starting_index' => 0\n")
    return d


class ConvertTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.base, cls.base_head = tiny(BASE, 1, "hf_seqcls", len(HF_LABELS))
        cls.large, cls.large_hf_head = tiny(LARGE, 2, "hf_seqcls", len(HF_LABELS))
        cls.large_sb, cls.large_sb_head = tiny(LARGE, 3, "sb_linear", len(SB_LABELS))
        cls.base_sb, cls.base_sb_head = tiny(BASE, 4, "sb_linear", len(SB_LABELS))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_cli(self, *args):
        """Runs the converter's main() -> (status, file tensors, metadata, printed text)."""
        out = os.path.join(self.tmp.name, "out.safetensors")
        if os.path.exists(out):
            os.remove(out)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            rc = C.main(list(args) + ["-o", out])
        if rc != 0:
            return rc, None, None, buf.getvalue()
        with open(out, "rb") as f:
            blob = f.read()
        self.assertEqual(struct_header_len(blob) % 8, 0, "header length not a multiple of 8")
        t, meta = C.read_safetensors_numpy(blob)
        return rc, t, meta, buf.getvalue()

    def assert_tensors(self, got, want, tol=0.0, what=""):
        self.assertEqual(sorted(got), sorted(want), what + ": tensor names")
        for k, v in want.items():
            g = torch.from_numpy(got[k])
            self.assertEqual(tuple(g.shape), tuple(v.shape), "%s %s shape" % (what, k))
            if tol == 0.0:
                exp = v.float().double()  # the file is float32
                self.assertTrue(torch.equal(g, exp), "%s %s: max diff %g" % (what, k, float((g - exp).abs().max())))
            else:
                err = float(((g - v) / v.abs().clamp(min=1.0)).abs().max())
                self.assertLessEqual(err, tol, "%s %s" % (what, k))

    def assert_meta(self, meta, cfg, **kv):
        want = {"format": "emo-wav2vec2", "version": "1", "extractor_mode": cfg["extractor_mode"],
                "conv_layers": ",".join("%d:%d:%d" % l for l in cfg["conv_layers"]),
                "conv_bias": str(int(cfg["conv_bias"])), "embed_dim": str(cfg["embed_dim"]),
                "num_layers": str(cfg["num_layers"]), "num_heads": str(cfg["num_heads"]),
                "ff_dim": str(cfg["ff_dim"]), "pos_conv_kernel": str(cfg["pos_conv_kernel"]),
                "pos_conv_groups": str(cfg["pos_conv_groups"]),
                "layer_norm_first": str(int(cfg["layer_norm_first"]))}
        want.update(kv)
        for k, v in want.items():
            self.assertEqual(meta.get(k), v, "metadata " + k)

    # ---- Hugging Face

    def test_hf_base_bin_weight_g_v(self):
        d = make_hf_dir(self.tmp.name, self.base, self.base_head, BASE, HF_LABELS)
        rc, t, meta, log = self.run_cli("hf", d)
        self.assertEqual(rc, 0, log)
        self.assert_tensors(t, expected(self.base, self.base_head), what="hf base")
        self.assert_meta(meta, BASE, input_norm="zero_mean_unit_var", head="hf_seqcls", output_norm="none",
                         labels=",".join(HF_LABELS))
        self.assertIn("masked_spec_embed", log)  # dropped with a note

    def test_hf_large_safetensors_parametrizations(self):
        d = make_hf_dir(self.tmp.name, self.large, self.large_hf_head, LARGE, HF_LABELS, weight_norm="param",
                        fmt="safetensors", do_normalize=False)
        rc, t, meta, log = self.run_cli("hf", d)
        self.assertEqual(rc, 0, log)
        self.assert_tensors(t, expected(self.large, self.large_hf_head), what="hf large")
        self.assert_meta(meta, LARGE, input_norm="none", head="hf_seqcls")

    def test_hf_no_preprocessor_defaults_to_normalize(self):
        d = make_hf_dir(self.tmp.name, self.base, self.base_head, BASE, HF_LABELS, do_normalize=None)
        rc, t, meta, log = self.run_cli("hf", d)
        self.assertEqual(rc, 0, log)
        self.assertEqual(meta["input_norm"], "zero_mean_unit_var")
        self.assertIn("no preprocessor_config.json", log)

    def test_hf_f16(self):
        d = make_hf_dir(self.tmp.name, self.base, self.base_head, BASE, HF_LABELS)
        rc, t, meta, log = self.run_cli("hf", d, "--dtype", "f16")
        self.assertEqual(rc, 0, log)
        self.assert_tensors(t, expected(self.base, self.base_head), tol=1e-3, what="hf f16")
        k = "encoder.transformer.layers.0.attention.q_proj.weight"
        self.assertTrue(np.array_equal(t[k], t[k].astype(np.float16).astype(np.float64)))

    def test_hf_errors(self):
        cases = [
            ({"use_weighted_layer_sum": True}, "use_weighted_layer_sum"),
            ({"hidden_act": "relu"}, "gelu"),
            ({"num_hidden_layers": 3}, "num_layers"),
            ({"layer_norm_eps": 1e-6}, "layer_norm_eps"),
            ({"id2label": {"0": "a,b", "1": "c", "2": "d", "3": "e", "4": "f"}}, "commas"),
            ({"classifier_proj_size": 9}, "classifier_proj_size"),
        ]
        for extra, word in cases:
            d = make_hf_dir(self.tmp.name, self.base, self.base_head, BASE, HF_LABELS, **extra)
            rc, _, _, log = self.run_cli("hf", d)
            self.assertEqual(rc, 1, "%r should fail" % extra)
            self.assertIn(word, log, extra)

    def test_hf_missing_and_unknown_tensors(self):
        d = make_hf_dir(self.tmp.name, self.base, self.base_head, BASE, HF_LABELS)
        p = os.path.join(d, "pytorch_model.bin")
        sd = torch.load(p)
        del sd["wav2vec2.encoder.layers.1.feed_forward.output_dense.bias"]
        torch.save(sd, p)
        rc, _, _, log = self.run_cli("hf", d)
        self.assertEqual(rc, 1)
        self.assertIn("encoder.transformer.layers.1.feed_forward.output_dense.bias", log)
        sd["wav2vec2.encoder.layers.1.feed_forward.output_dense.bias"] = torch.zeros(BASE["embed_dim"])
        sd["wav2vec2.encoder.layers.0.adapter_layer.linear_1.weight"] = torch.zeros(2, 2)
        torch.save(sd, p)
        rc, _, _, log = self.run_cli("hf", d)
        self.assertEqual(rc, 1)
        self.assertIn("adapter_layer", log)
        del sd["classifier.bias"]
        del sd["wav2vec2.encoder.layers.0.adapter_layer.linear_1.weight"]
        torch.save(sd, p)
        rc, _, _, log = self.run_cli("hf", d)
        self.assertEqual(rc, 1)
        self.assertIn("classifier.bias", log)

    # ---- speechbrain

    def test_sb_large_flags(self):
        d = make_sb_dir(self.tmp.name, self.large_sb, self.large_sb_head, LARGE, SB_LABELS,
                        hub="facebook/wav2vec2-large-lv60")
        rc, t, meta, log = self.run_cli("speechbrain", d, "--num-heads", "4", "--conv-strides", "5,2",
                                        "--layer-norm-first", "1")
        self.assertEqual(rc, 0, log)
        self.assert_tensors(t, expected(self.large_sb, self.large_sb_head), what="sb large")
        self.assert_meta(meta, LARGE, input_norm="layer_norm", head="sb_linear", output_norm="layer_norm_all",
                         labels=",".join(SB_LABELS))

    def test_sb_versions_and_overrides(self):
        d = make_sb_dir(self.tmp.name, self.base_sb, self.base_sb_head, BASE, SB_LABELS, onorm="False",
                        head_file="output_mlp.ckpt", head_key="w.weight", prefix="")
        flags = ["--num-heads", "3", "--conv-strides", "5,2,2", "--layer-norm-first", "0"]
        rc, t, meta, log = self.run_cli("speechbrain", d, *flags)
        self.assertEqual(rc, 0, log)
        self.assert_tensors(t, expected(self.base_sb, self.base_sb_head), what="sb base")
        self.assert_meta(meta, BASE, output_norm="none", input_norm="layer_norm")
        rc, t, meta, log = self.run_cli("speechbrain", d, *flags, "--speechbrain-version", "1",
                                        "--output-norm", "layer_norm", "--input-norm", "none")
        self.assertEqual(rc, 0, log)
        self.assert_meta(meta, BASE, output_norm="layer_norm", input_norm="none")

    def test_sb_hf_config(self):
        d = make_sb_dir(self.tmp.name, self.base_sb, self.base_sb_head, BASE, SB_LABELS)
        cp = os.path.join(d, "backbone_config.json")
        write_json(cp, hf_config(BASE, SB_LABELS))
        rc, t, meta, log = self.run_cli("speechbrain", d, "--hf-config", cp)
        self.assertEqual(rc, 0, log)
        self.assert_meta(meta, BASE, output_norm="layer_norm_all", labels=",".join(SB_LABELS))

    def test_sb_errors(self):
        # the hub's defaults (wav2vec2-base: D 768) do not fit the tiny tensors: flags required
        d = make_sb_dir(self.tmp.name, self.base_sb, self.base_sb_head, BASE, SB_LABELS)
        rc, _, _, log = self.run_cli("speechbrain", d)
        self.assertEqual(rc, 1)
        self.assertIn("--num-heads", log)
        d = make_sb_dir(self.tmp.name, self.base_sb, self.base_sb_head, BASE, SB_LABELS,
                        extra_head={"0.w.bias": torch.zeros(len(SB_LABELS))})
        rc, _, _, log = self.run_cli("speechbrain", d, "--num-heads", "3", "--conv-strides", "5,2,2",
                                     "--layer-norm-first", "0")
        self.assertEqual(rc, 1)
        self.assertIn("bias", log)
        d = make_sb_dir(self.tmp.name, self.base_sb, self.base_sb_head, BASE, SB_LABELS, onorm="maybe")
        rc, _, _, log = self.run_cli("speechbrain", d, "--num-heads", "3", "--conv-strides", "5,2,2",
                                     "--layer-norm-first", "0")
        self.assertEqual(rc, 1)
        self.assertIn("--output-norm", log)

    # ---- torchaudio, and the command line as a process

    def test_torchaudio_subprocess(self):
        sdp = os.path.join(self.tmp.name, "ta.pt")
        sd = dict(self.base.state_dict())
        sd.update(self.base_head)
        torch.save(sd, sdp)
        cp = os.path.join(self.tmp.name, "ta.json")
        cfg = dict(BASE, input_norm="none", head="hf_seqcls", labels=HF_LABELS)
        write_json(cp, cfg)
        out = os.path.join(self.tmp.name, "ta.safetensors")
        r = subprocess.run([sys.executable, os.path.join(HERE, "wav2vec2_convert.py"), "torchaudio", sdp, cp,
                            "-o", out], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("parameters", r.stdout)
        with open(out, "rb") as f:
            t, meta = C.read_safetensors_numpy(f.read())
        self.assert_tensors(t, expected(self.base, self.base_head), what="torchaudio")
        self.assert_meta(meta, BASE, input_norm="none", head="hf_seqcls")
        cfg["num_heads"] = 5  # 12 % 5 != 0
        write_json(cp, cfg)
        r = subprocess.run([sys.executable, os.path.join(HERE, "wav2vec2_convert.py"), "torchaudio", sdp, cp,
                            "-o", out], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("num_heads", r.stdout)

    def test_safetensors_writer_layout(self):
        buf = io.BytesIO()
        C.write_safetensors(buf, [("a", np.arange(3, dtype="<f4")), ("b", np.ones((2, 2), "<f2"))], {"k": "v"})
        blob = buf.getvalue()
        n = struct_header_len(blob)
        self.assertEqual(n % 8, 0)
        h = json.loads(blob[8:8 + n].decode())
        self.assertEqual(h["__metadata__"], {"k": "v"})
        self.assertEqual(h["a"], {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]})
        self.assertEqual(h["b"], {"dtype": "F16", "shape": [2, 2], "data_offsets": [12, 20]})
        self.assertEqual(len(blob), 8 + n + 20)


def struct_header_len(blob):
    return int.from_bytes(blob[:8], "little")


if __name__ == "__main__":
    unittest.main()
