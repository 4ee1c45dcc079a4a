#!/usr/bin/env python3
"""lr_asd_ref.py: reference outputs of LR-ASD (Junhua-Liao/LR-ASD at 1b6dcd2d8fc2, MIT) for emo's
C implementation (src/av/asd.c, src/audio/mfcc.c, src/nn/torch_ckpt.c), written once into
tests/fixtures/lr_asd.fix (EMOFIX v1, tests/fixture.h). Run with Debian's python3 (python3-torch,
python3-scipy, python3-opencv) and two checkouts kept outside emo's tree:

  /usr/bin/python3 tools/lr_asd_ref.py --upstream DIR_OF_LR-ASD --psf DIR_OF_python_speech_features \\
      --weights ../shared/data/models/lr_asd --emo build/emo --out tests/fixtures/lr_asd.fix

DIR_OF_LR-ASD holds upstream's model/ and loss.py; DIR_OF_python_speech_features holds the package
python_speech_features/ (jameslyons/python_speech_features, the MFCC upstream calls). Nothing of
either is copied into emo: this tool imports them from where they are.

What it does, as upstream's Columbia_test.py does for one face track (minus its XVID round trip
of the crops, which is lossy and not part of the model):
  1. face boxes of GRID clip id2_vcd_swwp2s.mpg (CC BY 4.0) from emo's own tracker (`emo video`),
     the first 50 frames (2 s) of track 1; box half-size, centre median-filtered over 13 frames
     (scipy.signal.medfilt), the frame padded with 110, cropped, cv2.resize to 224x224, gray,
     the central 112x112;
  2. the clip's audio as 16 kHz mono int16 (the ffmpeg CLI) from the track start, and
     python_speech_features.mfcc(audio, 16000, numcep=13, winlen=0.025, winstep=0.010);
  3. upstream's ASD_Model + lossAV.FC with each checkpoint's weights, in float64 (the "true"
     values; float32 PyTorch differs from them by the amount stored in "info"), on the whole
     2 s window: logits (T, 2), the visual and audio embeddings (T, 128).
  4. it also reads every tensor of both checkpoints with torch.load and stores a checksum
     (sum and sum of squares in float64 of every float tensor, by name order) so the C reader's
     tensors are cross-checked (tests/test_asd.c).

Tensors of the fixture:
  "info"            uint8: text (versions, clip, tolerances seen);
  "crops"           uint8 (T, 112, 112);
  "pcm_net"         float32 (640 T + 240): the track's audio, int16 / 32768 (what emo's decoder
                    gives), 2 s and the 240 samples the 4T-th MFCC frame needs;
  "mfcc"            float32 (4T - 1, 13): python_speech_features on the first 640 T samples of
                    pcm_net (times 32768): its last frame is zero-padded;
  "mfcc_net"        float32 (4T, 13): the same on all of pcm_net: the network's audio input;
  "<w>.logits"      float32 (T, 2) for w in talkset, ava;
  "<w>.vis", "<w>.aud"  float32 (T, 128);
  "<w>.sums"        float32 (n_tensors, 2): per tensor in state_dict order, sum and sum of squares;
  "crop.box"        float32 (T, 4): the median-filtered box (x0, y0, x1, y1) each crop came from;
  "frame0"          uint8 (H, W): not stored (GRID frames are not committed in full).
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "training"))
from features import write_fixture  # noqa: E402  (the one EMOFIX writer)

T = 50
CLIP = "av/grid/id2_vcd_swwp2s.mpg"


def boxes_from_emo(emo, clip):
    out = subprocess.run([emo, "video", "--no-voice", "--expression", "none", clip],
                         check=True, capture_output=True, text=True).stdout
    frames = {}
    for line in out.splitlines():
        r = json.loads(line)
        if r.get("type") != "frame":
            continue
        for f in r["faces"]:
            if f["track_id"] == 1:
                x, y, w, h = f["box"]
                frames[r["frame"]] = (x, y, x + w, y + h)
    return frames


def upstream_crops(clip, boxes, n):
    import cv2
    from scipy import signal
    dets = {"x": [], "y": [], "s": []}
    for k in range(n):
        x0, y0, x1, y1 = boxes[k]
        dets["s"].append(max(y1 - y0, x1 - x0) / 2)
        dets["y"].append((y0 + y1) / 2)
        dets["x"].append((x0 + x1) / 2)
    for key in dets:
        dets[key] = signal.medfilt(dets[key], kernel_size=13)
    cap = cv2.VideoCapture(clip)
    crops, used = [], []
    cs = 0.40
    for k in range(n):
        ok, image = cap.read()
        assert ok
        bs = dets["s"][k]
        bsi = int(bs * (1 + 2 * cs))
        frame = np.pad(image, ((bsi, bsi), (bsi, bsi), (0, 0)), "constant", constant_values=(110, 110))
        my = dets["y"][k] + bsi
        mx = dets["x"][k] + bsi
        face = frame[int(my - bs):int(my + bs * (1 + 2 * cs)), int(mx - bs * (1 + cs)):int(mx + bs * (1 + cs))]
        face = cv2.resize(face, (224, 224))
        face = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
        crops.append(face[56:168, 56:168])
        c = (dets["x"][k], dets["y"][k], bs)
        used.append((c[0] - c[2], c[1] - c[2], c[0] + c[2], c[1] + c[2]))
    return np.stack(crops).astype(np.uint8), np.array(used, np.float32)


def track_audio(clip, n):
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", clip, "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
                         check=True, capture_output=True).stdout
    a = np.frombuffer(raw, "<i2")
    return a[: n * 640]


def build_model(upstream, path):
    import torch
    sys.path.insert(0, upstream)
    from model.Model import ASD_Model
    from loss import lossAV
    sd = torch.load(path, map_location="cpu")
    model, head = ASD_Model(), lossAV()
    model.load_state_dict({k[6:]: v for k, v in sd.items() if k.startswith("model.")})
    head.load_state_dict({k[7:]: v for k, v in sd.items() if k.startswith("lossAV.")})
    model.eval()
    head.eval()
    sums = []
    for k, v in sd.items():
        v = v.double()
        sums.append((float(v.sum()), float((v * v).sum())))
    return model, head, np.array(sums, np.float32), sd


def run(model, head, crops, mfcc, dtype):
    import torch
    model = model.to(dtype)
    head = head.to(dtype)
    with torch.no_grad():
        a = torch.tensor(mfcc, dtype=dtype).unsqueeze(0)
        v = torch.tensor(crops, dtype=dtype).unsqueeze(0)
        ea = model.forward_audio_frontend(a)
        ev = model.forward_visual_frontend(v)
        out = model.forward_audio_visual_backend(ea, ev)
        logits = head.FC(out)
    return logits.numpy(), ev[0].numpy(), ea[0].numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--psf", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--emo", required=True)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(HERE), "..", "shared", "data"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import torch
    sys.path.insert(0, args.psf)
    import python_speech_features
    clip = os.path.join(args.data, CLIP)
    boxes = boxes_from_emo(args.emo, clip)
    crops, used = upstream_crops(clip, boxes, T)
    audio = track_audio(clip, T)
    mfcc = python_speech_features.mfcc(audio, 16000, numcep=13, winlen=0.025, winstep=0.010)
    # upstream's alignment: length = min((m - m % 4) / 100, frames); here 4T - 1 MFCC frames
    # come from T * 640 samples, so upstream would score T - 1 frames; the fixture feeds the
    # network exactly 4T frames: the first 4T - 1 and one more computed from 400 samples past
    # the 2 s, as the stream does when the soundtrack goes on.
    full = track_audio(clip, T + 1)[: T * 640 + 240]
    mfcc_net = python_speech_features.mfcc(full, 16000, numcep=13, winlen=0.025, winstep=0.010)[: 4 * T]
    assert np.allclose(mfcc_net[: 4 * T - 2], mfcc[: 4 * T - 2])
    assert np.array_equal(full[: len(audio)], audio)
    tensors = [("crops", crops), ("mfcc", mfcc.astype(np.float32)),
               ("pcm_net", full.astype(np.float32) / 32768.0), ("mfcc_net", mfcc_net.astype(np.float32)),
               ("crop.box", used)]
    info = ["LR-ASD 1b6dcd2d8fc2 via tools/lr_asd_ref.py; torch %s, numpy %s; clip %s frames 0..%d" %
            (torch.__version__, np.__version__, CLIP, T - 1)]
    for tag, fname in (("talkset", "finetuning_TalkSet.model"), ("ava", "pretrain_AVA.model")):
        model, head, sums, sd = build_model(args.upstream, os.path.join(args.weights, fname))
        l64, v64, a64 = run(model, head, crops, mfcc_net, torch.float64)
        l32, _, _ = run(model, head, crops, mfcc_net, torch.float32)
        info.append("%s: float32 PyTorch vs float64: worst logit diff %.3g; %d tensors" %
                    (tag, float(np.abs(l32 - l64).max()), len(sd)))
        tensors += [(tag + ".logits", l64), (tag + ".vis", v64), (tag + ".aud", a64), (tag + ".sums", sums)]
        print(info[-1])
        print(tag, "scores", np.round(l64[:, 1], 2))
    tensors.insert(0, ("info", np.frombuffer("\n".join(info).encode(), np.uint8)))
    write_fixture(args.out, tensors)
    print("wrote", args.out, os.path.getsize(args.out), "bytes")


if __name__ == "__main__":
    main()
