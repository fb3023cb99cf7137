"""The PyTorch peer of `lora4j bench`, measured in the same run.

The model of the bench config's config.json in plain PyTorch: GPT-2's layout (learned positions,
pre-LN blocks, fused c_attn, gelu_new, tied head) with LoRA on the q and v slices of every c_attn,
or the Llama layout (RMSNorm, rotary positions, grouped-query attention, SiLU-gated MLP, no biases,
tied head, as Hugging Face's LlamaModel computes it) with LoRA on every q_proj and v_proj. LoRA is
out = base(x) + scale * B(A(x)), B zero at start, base frozen; AdamW, one fixed random batch, the
threads lora4j uses. Prints one JSON line with the fields of lora4j's BenchResult, so the runner
can print ratios. One mode per process, so peak RSS is the mode's own.

usage: python3 pytorch_reference.py MODE CONFIG_JSON SEQ BATCH RANK STEPS THREADS
(MODE: forward, full or lora)
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



class Lora(torch.nn.Module):
    """scale * B(A(x)) beside a frozen projection (PEFT's init: A kaiming-uniform, B zero)."""

    def __init__(self, d_in, d_out, rank):
        super().__init__()
        self.lora_a = torch.nn.Parameter(torch.empty(rank, d_in))
        self.lora_b = torch.nn.Parameter(torch.zeros(d_out, rank))
        torch.nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.scale = 2.0  # alpha 2r / r

    def forward(self, x):
        return (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale


class RmsNorm(torch.nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class LlamaBlock(torch.nn.Module):
    def __init__(self, c, rank):
        super().__init__()
        d, inner = c["hidden_size"], c["intermediate_size"]
        self.heads = c["num_attention_heads"]
        self.kv_heads = c.get("num_key_value_heads", self.heads)
        self.hd = c.get("head_dim", d // self.heads)
        eps = c.get("rms_norm_eps", 1e-6)
        self.input_layernorm = RmsNorm(d, eps)
        self.q_proj = torch.nn.Linear(d, self.heads * self.hd, bias=False)
        self.k_proj = torch.nn.Linear(d, self.kv_heads * self.hd, bias=False)
        self.v_proj = torch.nn.Linear(d, self.kv_heads * self.hd, bias=False)
        self.o_proj = torch.nn.Linear(self.heads * self.hd, d, bias=False)
        self.post_attention_layernorm = RmsNorm(d, eps)
        self.gate_proj = torch.nn.Linear(d, inner, bias=False)
        self.up_proj = torch.nn.Linear(d, inner, bias=False)
        self.down_proj = torch.nn.Linear(inner, d, bias=False)
        self.lora_q = Lora(d, self.heads * self.hd, rank) if rank else None
        self.lora_v = Lora(d, self.kv_heads * self.hd, rank) if rank else None

    def forward(self, h, mask, cos, sin):
        b, t, _ = h.shape
        a = self.input_layernorm(h)
        q, k, v = self.q_proj(a), self.k_proj(a), self.v_proj(a)
        if self.lora_q is not None:
            q = q + self.lora_q(a)
            v = v + self.lora_v(a)
        q = q.view(b, t, self.heads, self.hd).transpose(1, 2)
        k = k.view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        v = v.view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        group = self.heads // self.kv_heads
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd) + mask
        attended = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, -1)
        h = h + self.o_proj(attended)
        m = self.post_attention_layernorm(h)
        return h + self.down_proj(F.silu(self.gate_proj(m)) * self.up_proj(m))


class Llama(torch.nn.Module):
    def __init__(self, c, rank):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = torch.nn.ModuleList(
            [LlamaBlock(c, rank) for _ in range(c["num_hidden_layers"])]
        )
        self.norm = RmsNorm(c["hidden_size"], c.get("rms_norm_eps", 1e-6))
        self.hd = self.layers[0].hd
        self.theta = c.get("rope_theta", 10000.0)

    def loss(self, ids):
        t = ids.shape[1]
        mask = torch.full((t, t), -1e9).triu(1)
        inv_freq = 1.0 / self.theta ** (torch.arange(0, self.hd, 2).float() / self.hd)
        freqs = torch.outer(torch.arange(t).float(), inv_freq)
        angles = torch.cat((freqs, freqs), dim=-1)
        cos, sin = angles.cos(), angles.sin()
        h = self.embed_tokens(ids)
        for layer in self.layers:
            h = layer(h, mask, cos, sin)
        logits = self.norm(h) @ self.embed_tokens.weight.t()  # tied head
        return F.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)
        )


def main():
    mode = sys.argv[1]
    with open(sys.argv[2]) as f:
        config = json.load(f)
    seq, batch, rank, steps, threads = map(int, sys.argv[3:8])
    torch.manual_seed(7)
    torch.set_num_threads(threads)
    lora_rank = rank if mode == "lora" else 0
    vocab = config["vocab_size"]
    if config["model_type"] == "gpt2":
        model = Gpt2(
            vocab,
            config["n_positions"],
            config["n_embd"],
            config["n_layer"],
            config["n_head"],
            config.get("n_inner") or 4 * config["n_embd"],
            lora_rank,
        )
    else:
        model = Llama(config, lora_rank)
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
