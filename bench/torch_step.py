"""The PyTorch side of the training-step and epoch benches: the same BERT step on the CPU, float32.

Forward (dropout on) + backward + gradient clipping (max norm 1) + torch.optim.AdamW, on
random weights of the preset's shapes. The model is ../shared/reference/bert_reference.py (an
independent BERT written from modeling_bert.py's semantics).

    python3 bench/torch_step.py --preset base --batch 8 --seq 64 --samples 3 --threads 2

times steps on a batch of random ids, every row full length, as bench/training-step.ts does,
and prints one JSON line: {"preset", "batch", "seq", "threads", "torch", "samples_s": [...]}.

    python3 bench/torch_step.py --preset small --batches FILE --threads 2

trains one epoch over FILE's batches (bench/epoch.ts writes them: a JSON list of
{shape, input_ids, token_type_ids, attention_mask, labels}, flat row-major) after one
warm-up step on the first, and prints {"preset", "steps", "threads", "torch", "epoch_s"}.

Debian's python3-torch multiplies matrices with whatever libblas.so.3 the system has: install
libopenblas0-pthread, or it is the reference BLAS and a BERT-base step takes ~85 s instead of ~4 s.
"""
import argparse
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "reference"))
import bert_reference as ref  # noqa: E402

NUM_LABELS = 20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="base", choices=sorted(ref.PRESETS))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batches", help="train one epoch over these batches (JSON) instead of timing --samples steps")
    a = ap.parse_args()

    torch.set_default_dtype(torch.float32)  # the reference module picks float64 for parity
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = ref.default_config(a.preset, NUM_LABELS)
    shapes = ref.param_shapes(cfg, NUM_LABELS, mlm=False, nsp=False)
    params = {n: torch.tensor(v, requires_grad=True) for n, v in ref.random_params(shapes, 0).items()}
    for n, p in params.items():
        if not (n.endswith("bias") or "LayerNorm" in n):
            p.data.mul_(0.1)  # BERT's 0.02 scale: the reference's 0.2 is for tiny models
    decay = [p for n, p in params.items() if not (n.endswith(".bias") or "LayerNorm" in n)]
    no_decay = [p for n, p in params.items() if n.endswith(".bias") or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=2e-5)

    def step(batch):
        opt.zero_grad(set_to_none=True)
        _, loss = ref.classify(cfg, params, batch, train=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
        opt.step()

    if a.batches:
        with open(a.batches) as f:
            rows = json.load(f)

        def to_batch(r):
            B, T = r["shape"]
            as2d = lambda k: torch.tensor(r[k], dtype=torch.long).view(B, T)  # noqa: E731
            return dict(input_ids=as2d("input_ids"), token_type_ids=as2d("token_type_ids"),
                        attention_mask=as2d("attention_mask"), labels=torch.tensor(r["labels"], dtype=torch.long))

        step(to_batch(rows[0]))  # warm-up
        t0 = time.perf_counter()
        for r in rows:
            step(to_batch(r))
        print(json.dumps(dict(preset=a.preset, steps=len(rows), threads=a.threads, torch=torch.__version__, epoch_s=time.perf_counter() - t0)))
        return

    g = torch.Generator().manual_seed(a.batch * 1000 + a.seq)
    ids = torch.randint(1000, cfg["vocab_size"], (a.batch, a.seq), generator=g)
    ids[:, 0] = 101
    batch = dict(input_ids=ids, token_type_ids=torch.zeros_like(ids), attention_mask=torch.ones_like(ids),
                 labels=torch.randint(0, NUM_LABELS, (a.batch,), generator=g))
    step(batch)  # warm-up
    samples = []
    for _ in range(a.samples):
        t0 = time.perf_counter()
        step(batch)
        samples.append(time.perf_counter() - t0)
    print(json.dumps(dict(preset=a.preset, batch=a.batch, seq=a.seq, threads=a.threads, torch=torch.__version__, samples_s=samples)))


if __name__ == "__main__":
    main()
