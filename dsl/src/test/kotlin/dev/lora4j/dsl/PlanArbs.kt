package dev.lora4j.dsl

import io.kotest.property.Arb
import io.kotest.property.arbitrary.bind
import io.kotest.property.arbitrary.boolean
import io.kotest.property.arbitrary.choice
import io.kotest.property.arbitrary.constant
import io.kotest.property.arbitrary.double
import io.kotest.property.arbitrary.element
import io.kotest.property.arbitrary.enum
import io.kotest.property.arbitrary.flatMap
import io.kotest.property.arbitrary.int
import io.kotest.property.arbitrary.list
import io.kotest.property.arbitrary.long
import io.kotest.property.arbitrary.map
import io.kotest.property.arbitrary.orNull
import io.kotest.property.arbitrary.set
import io.kotest.property.arbitrary.string
import io.kotest.property.arbitrary.subsequence

/** Generators of valid plans, for properties that must hold for every plan. */
object PlanArbs {
  private fun unit(): Arb<Double> = Arb.double(0.0, 0.999, includeNonFiniteEdgeCases = false)

  private fun positive(max: Double = 1e3): Arb<Double> =
    Arb.double(1e-9, max, includeNonFiniteEdgeCases = false)

  private val moduleNames =
    listOf("c_attn", "attn.c_proj", "mlp.c_fc", "q_proj", "self_attn.v_proj", "down_proj", "lm-x")

  private val regexes =
    listOf(
      "model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj",
      "mlp\\.c_.*",
      ".*\\.(gate|up)_proj",
      "(?i).*C_ATTN",
      "transformer\\.h\\.[01]\\.attn\\.c_attn",
    )

  val selector: Arb<TargetSelector> =
    Arb.choice(
      Arb.element(moduleNames).map { TargetSelector.Suffix(it) },
      Arb.element(regexes).map { TargetSelector.Pattern(it) },
      Arb.constant(TargetSelector.AllLinear),
    )

  val target: Arb<TargetRule> =
    Arb.bind(
      selector,
      Arb.subsequence(Slice.values().toList()).map { it.toSet() },
      Arb.set(Arb.int(0, 40), 0..5),
      Arb.subsequence(listOf("mlp.c_proj", "lm_head", "o_proj")),
      Arb.int(1, 4096).orNull(0.6),
      positive().orNull(0.6),
      unit().orNull(0.7),
      Arb.enum<LoraInit>().orNull(0.7),
    ) { select, slices, layers, exclude, rank, alpha, dropout, init ->
      TargetRule(
        select,
        if (select is TargetSelector.Suffix) slices else emptySet(),
        layers,
        exclude,
        rank,
        alpha,
        dropout,
        init,
      )
    }

  val defaults: Arb<AdapterDefaults> =
    Arb.bind(
      Arb.int(1, 4096),
      positive(),
      unit(),
      Arb.enum<LoraInit>(),
      Arb.boolean(),
      ::AdapterDefaults,
    )

  val optimizer: Arb<Optimizer> =
    Arb.choice(
      Arb.bind(positive(1.0), unit(), unit(), positive(1e-3), positive(1.0)) { lr, b1, b2, eps, wd
        ->
        Optimizer.AdamW(lr, b1, b2, eps, wd)
      },
      Arb.bind(positive(1.0), unit(), positive(1.0)) { lr, m, wd -> Optimizer.Sgd(lr, m, wd) },
    )

  private fun warmup(maxSteps: Int?): Arb<Warmup> =
    Arb.choice(
      Arb.int(0, (maxSteps ?: 10_000) - 1).map { Warmup.Steps(it) },
      unit().map { Warmup.Ratio(it) },
    )

  private fun schedule(maxSteps: Int?): Arb<Schedule> =
    Arb.bind(
      warmup(maxSteps),
      Arb.double(0.0, 1.0, includeNonFiniteEdgeCases = false),
      Arb.int(0, 2)
    ) { w, min, kind ->
      when (kind) {
        0 -> Schedule.Constant(w)
        1 -> Schedule.Linear(w, min)
        else -> Schedule.Cosine(w, min)
      }
    }

  val training: Arb<TrainingPlan> =
    Arb.bind(Arb.boolean(), Arb.int(1, 100_000), Arb.int(1, 50)) { bySteps, steps, epochs ->
        if (bySteps) steps to null else null to epochs
      }
      .flatMap { (maxSteps, epochs) ->
        Arb.bind(
          optimizer,
          positive(64.0).orNull(0.5),
          schedule(maxSteps),
          Arb.bind(Arb.int(1, 512), Arb.int(1, 64), positive(10.0).orNull(0.3)) { b, g, n ->
            Triple(b, g, n)
          },
          Arb.enum<Precision>(),
          Arb.long(),
          Arb.bind(
            Arb.int(1, 1000).orNull(0.3),
            Arb.int(1, 1000).orNull(),
            Arb.int(1, 10).orNull()
          ) { e, c, k ->
            Triple(e, c, k)
          },
          Arb.bind(Arb.int(1, 20), positive(1.0)) { p, d -> EarlyStopping(p, d) }.orNull(0.5),
        ) {
          opt,
          plus,
          schedule,
          (batch, accumulation, norm),
          precision,
          seed,
          (eval, ckpt, keep),
          stop ->
          TrainingPlan(
            optimizer = opt,
            loraPlusRatio = plus,
            schedule = schedule,
            batchSize = batch,
            gradAccumulation = accumulation,
            maxSteps = maxSteps,
            epochs = epochs,
            maxGradNorm = norm,
            precision = precision,
            seed = seed,
            evalEvery = if (stop != null) eval ?: 50 else eval,
            checkpointEvery = ckpt,
            keepCheckpoints = keep,
            earlyStopping = stop,
          )
        }
      }

  val format: Arb<DataFormat> =
    Arb.choice(
      Arb.constant(DataFormat.TEXT),
      Arb.string(1, 8).map { DataFormat.JsonlText("f$it") },
      Arb.constant(DataFormat.PROMPT_COMPLETION),
      Arb.constant(DataFormat.Tokenized("ids")),
    )

  val data: Arb<DataPlan> =
    Arb.bind(
      Arb.string(1, 30).map { "data/$it.txt" },
      Arb.boolean(),
      format,
      Arb.int(2, 8192),
      Arb.double(0.001, 0.5, includeNonFiniteEdgeCases = false),
      Arb.boolean(),
    ) { train, separate, format, seqLen, split, mask ->
      DataPlan(
        train = train,
        validation = if (separate) "$train.valid" else null,
        format = format,
        seqLen = seqLen,
        validationSplit = if (separate) 0.0 else split,
        maskPrompt = mask && format is DataFormat.PromptCompletion,
      )
    }

  val quantization: Arb<QuantizationPlan> =
    Arb.bind(Arb.enum<Quantization>(), Arb.boolean()) { q, dq ->
      QuantizationPlan(q, dq && q == Quantization.NF4)
    }

  val plan: Arb<LoraPlan> =
    Arb.bind(
      Arb.string(1, 40).map { "runs/$it" },
      defaults,
      Arb.list(target, 1..5).map { it.distinct() },
      training,
      data.orNull(0.2),
      quantization,
    ) { base, defaults, targets, training, data, quantization ->
      LoraPlan(base, defaults, targets, training, data, quantization)
    }
}
