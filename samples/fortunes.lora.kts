// A plan as a Kotlin script: `./lora4j train samples/fortunes.lora.kts --out runs/fortunes-script`
// (after `./lora4j quickstart` has made runs/quickstart/base). The DSL is imported implicitly and
// the last expression is the plan.

lora(base = "runs/quickstart/base") {
  defaults { rank = 4; alpha = 8.0 }
  target("c_attn")
  target("mlp.c_fc")
  training {
    optimizer = Optimizer.adamW(lr = 1e-2)
    schedule = Schedule.cosine(warmup = Warmup.steps(20), minLrRatio = 0.1)
    batchSize = 16
    maxSteps = 200
    evalEvery = 50
  }
  data {
    train("samples/data/fortunes.txt.gz")
    seqLen = 128
    validationSplit = 0.1
  }
}
