package dev.lora4j.dsl

import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable

/**
 * How the training file is laid out. [Text] is UTF-8 text (optionally gzipped) tokenized as one
 * stream; the JSON Lines formats read one record a line: [JsonlText] a text field,
 * [PromptCompletion] a prompt and a completion, [Tokenized] a list of token ids.
 */
@Serializable
sealed class DataFormat {
  /** UTF-8 text, `.gz` allowed, tokenized as one stream and cut into `seqLen` windows. */
  @Serializable
  @SerialName("text")
  object Text : DataFormat() {
    override fun toString(): String = "TEXT"
  }

  /** JSON Lines; each record's [field] is one document. */
  @Serializable
  @SerialName("jsonl_text")
  data class JsonlText @JvmOverloads constructor(val field: String = "text") : DataFormat()

  /** JSON Lines with a prompt and a completion; `maskPrompt` trains on the completion only. */
  @Serializable
  @SerialName("prompt_completion")
  data class PromptCompletion
  @JvmOverloads
  constructor(val prompt: String = "prompt", val completion: String = "completion") : DataFormat()

  /** JSON Lines whose [field] holds already tokenized ids. */
  @Serializable
  @SerialName("tokenized")
  data class Tokenized @JvmOverloads constructor(val field: String = "input_ids") : DataFormat()

  companion object {
    @JvmField val TEXT: DataFormat = Text
    @JvmField val JSONL_TEXT: DataFormat = JsonlText()
    @JvmField val PROMPT_COMPLETION: DataFormat = PromptCompletion()
    @JvmField val TOKENIZED: DataFormat = Tokenized()

    @JvmStatic fun jsonlText(field: String): DataFormat = JsonlText(field)

    @JvmStatic
    fun promptCompletion(prompt: String, completion: String): DataFormat =
      PromptCompletion(prompt, completion)

    @JvmStatic fun tokenized(field: String): DataFormat = Tokenized(field)
  }
}

/**
 * Where the training (and validation) examples come from and how they become sequences. Validation
 * data is either a file of its own ([validation]) or a seeded random fraction of the training
 * examples ([validationSplit]), not both.
 */
@Serializable
data class DataPlan
@JvmOverloads
constructor(
  /** The training file. */
  val train: String,
  /** A separate validation file; null uses [validationSplit] of [train] (or no validation). */
  val validation: String? = null,
  val format: DataFormat = DataFormat.TEXT,
  /** Tokens per training sequence. */
  val seqLen: Int = 512,
  /** The fraction of training examples held out for validation; 0 holds out none. */
  val validationSplit: Double = 0.0,
  /** Prompt-completion data only: no loss on the prompt tokens. */
  val maskPrompt: Boolean = false,
) {
  /** True if some data is set aside for evaluation. */
  val hasValidation: Boolean
    get() = validation != null || validationSplit > 0.0

  /** Fluent construction for Java; Kotlin code uses `data { }` inside `lora { }`. */
  class Builder internal constructor(private val train: String) {
    private var validation: String? = null
    private var format: DataFormat = DataFormat.TEXT
    private var seqLen: Int = 512
    private var validationSplit: Double = 0.0
    private var maskPrompt: Boolean = false

    fun validation(path: String?): Builder = apply { validation = path }

    fun format(format: DataFormat): Builder = apply { this.format = format }

    fun seqLen(seqLen: Int): Builder = apply { this.seqLen = seqLen }

    fun validationSplit(fraction: Double): Builder = apply { validationSplit = fraction }

    fun maskPrompt(mask: Boolean): Builder = apply { maskPrompt = mask }

    /** The plan as set; validated with the whole [LoraPlan]. */
    fun build(): DataPlan = DataPlan(train, validation, format, seqLen, validationSplit, maskPrompt)
  }

  companion object {
    @JvmStatic fun builder(train: String): Builder = Builder(train)
  }
}
