package dev.lora4j.dsl

/** Projection lists shaped like the architectures the engine compiles. */
object Models {
  /** GPT-2 with d_model 48: fused c_attn (q, k, v), c_proj, and the MLP's c_fc and c_proj. */
  fun gpt2(layers: Int = 2): List<ProjectionInfo> =
    (0 until layers).flatMap { i ->
      val p = "transformer.h.$i"
      listOf(
        ProjectionInfo("$p.attn.c_attn", 48, 144, listOf("q", "k", "v"), i),
        ProjectionInfo("$p.attn.c_proj", 48, 48, emptyList(), i),
        ProjectionInfo("$p.mlp.c_fc", 48, 192, emptyList(), i),
        ProjectionInfo("$p.mlp.c_proj", 192, 48, emptyList(), i),
      )
    }

  /** Llama with d_model 64, grouped-query k/v of 32, MLP 172. */
  fun llama(layers: Int = 2): List<ProjectionInfo> =
    (0 until layers).flatMap { i ->
      val p = "model.layers.$i"
      listOf(
        ProjectionInfo("$p.self_attn.q_proj", 64, 64, emptyList(), i),
        ProjectionInfo("$p.self_attn.k_proj", 64, 32, emptyList(), i),
        ProjectionInfo("$p.self_attn.v_proj", 64, 32, emptyList(), i),
        ProjectionInfo("$p.self_attn.o_proj", 64, 64, emptyList(), i),
        ProjectionInfo("$p.mlp.gate_proj", 64, 172, emptyList(), i),
        ProjectionInfo("$p.mlp.up_proj", 64, 172, emptyList(), i),
        ProjectionInfo("$p.mlp.down_proj", 172, 64, emptyList(), i),
      )
    }
}
