"""The PyTorch peer of `lora4j bench`, measured in the same run.

A GPT-2-layout model (learned positions, pre-LN blocks, fused c_attn, gelu_new, tied head) in plain
PyTorch with LoRA on the q and v slices of every c_attn (out = base(x) + scale * B(A(x)), B zero
at start, base frozen), AdamW, one fixed random batch, the threads lora4j uses. Prints one JSON
line with the fields of lora4j's BenchResult, so the runner can print ratios. One mode per process,
so peak RSS is the mode's own.

usage: python3 pytorch_reference.py MODE VOCAB POSITIONS D LAYERS HEADS INNER SEQ BATCH RANK STEPS
THREADS (MODE: forward, full or lora)
"""

import json
import math
import resource
import sys
import time

import torch
import torch.nn.functional as F


class Block(torch.nn.Module):
    def __init__(self, d, heads, inner, rank):
        super().__init__()
        self.heads = heads
        self.ln_1 = torch.nn.LayerNorm(d)
        self.c_attn = torch.nn.Linear(d, 3 * d)
        self.c_proj = torch.nn.Linear(d, d)
        self.ln_2 = torch.nn.LayerNorm(d)
        self.c_fc = torch.nn.Linear(d, inner)
        self.mlp_proj = torch.nn.Linear(inner, d)
        self.rank = rank
        if rank:
            # LoRA on the q and v slices of c_attn (PEFT's init: A kaiming-uniform, B zero).
            self.lora_a = torch.nn.ParameterList(
                [torch.nn.Parameter(torch.empty(rank, d)) for _ in range(2)]
            )
            self.lora_b = torch.nn.ParameterList(
                [torch.nn.Parameter(torch.zeros(d, rank)) for _ in range(2)]
            )
            for a in self.lora_a:
                torch.nn.init.kaiming_uniform_(a, a=math.sqrt(5))
            self.scale = 2.0  # alpha 2r / r

    def forward(self, h, mask):
        b, t, d = h.shape
        a = self.ln_1(h)
        q, k, v = self.c_attn(a).split(d, dim=-1)
        if self.rank:
            q = q + (a @ self.lora_a[0].t() @ self.lora_b[0].t()) * self.scale
            v = v + (a @ self.lora_a[1].t() @ self.lora_b[1].t()) * self.scale
        hd = d // self.heads
        q, k, v = (x.view(b, t, self.heads, hd).transpose(1, 2) for x in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(hd) + mask
        attended = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        h = h + self.c_proj(attended)
        m = self.ln_2(h)
        return h + self.mlp_proj(F.gelu(self.c_fc(m), approximate="tanh"))


class Gpt2(torch.nn.Module):
    def __init__(self, vocab, positions, d, layers, heads, inner, rank):
        super().__init__()
        self.wte = torch.nn.Embedding(vocab, d)
        self.wpe = torch.nn.Embedding(positions, d)
        self.blocks = torch.nn.ModuleList(
            [Block(d, heads, inner, rank) for _ in range(layers)]
        )
        self.ln_f = torch.nn.LayerNorm(d)

    def loss(self, ids):
        t = ids.shape[1]
        mask = torch.full((t, t), -1e9).triu(1)
        h = self.wte(ids) + self.wpe(torch.arange(t))
        for block in self.blocks:
            h = block(h, mask)
        logits = self.ln_f(h) @ self.wte.weight.t()  # tied head
        return F.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)
        )


def main():
    mode = sys.argv[1]
    vocab, positions, d, layers, heads, inner, seq, batch, rank, steps, threads = map(
        int, sys.argv[2:13]
    )
    torch.manual_seed(7)
    torch.set_num_threads(threads)
    model = Gpt2(vocab, positions, d, layers, heads, inner, rank if mode == "lora" else 0)
    for name, p in model.named_parameters():
        if "lora" not in name and p.dim() == 2:
            torch.nn.init.normal_(p, std=0.02)
    ids = torch.randint(0, vocab, (batch, seq))
    if mode == "lora":
        for name, p in model.named_parameters():
            p.requires_grad_("lora" in name)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)

    def step():
        if mode == "forward":
            with torch.no_grad():
                model.loss(ids)
            return
        optimizer.zero_grad(set_to_none=True)
        model.loss(ids).backward()
        optimizer.step()

    for _ in range(3):
        step()  # warm-up
    millis = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        millis.append((time.perf_counter() - start) * 1000)
    total = sum(p.numel() for p in model.parameters())
    trainable = 0 if mode == "forward" else sum(p.numel() for p in params)
    median = sorted(millis)[len(millis) // 2]  # as lora4j: the upper median
    print(
        json.dumps(
            {
                "mode": mode,
                "precision": "f32",
                "step_ms_median": median,
                "step_ms_min": min(millis),
                "tokens_per_s": batch * seq / (median / 1000),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "params_total": total,
                "params_trainable": trainable,
                "steps": steps,
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
