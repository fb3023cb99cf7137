package dev.lora4j.data;

import dev.lora4j.data.TokenizerJson.AddedToken;
import dev.lora4j.io.CheckpointException;
import dev.lora4j.io.JsonFields;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.stream.Stream;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonElementKt;
import kotlinx.serialization.json.JsonObject;
import kotlinx.serialization.json.JsonPrimitive;

/**
 * The tokenizer files of a Hugging Face checkpoint directory: {@code tokenizer.json}, or GPT-2's
 * older {@code vocab.json} + {@code merges.txt}, with the special tokens that {@code
 * tokenizer_config.json} and {@code special_tokens_map.json} name.
 */
final class TokenizerFiles {
  static final String TOKENIZER_JSON = "tokenizer.json";
  static final String VOCAB_JSON = "vocab.json";
  static final String MERGES_TXT = "merges.txt";
  static final String TOKENIZER_CONFIG = "tokenizer_config.json";
  static final String SPECIAL_TOKENS_MAP = "special_tokens_map.json";
  static final String ADDED_TOKENS = "added_tokens.json";

  /** Tried in order when no config file names the token. */
  private static final List<String> EOS_NAMES =
      List.of("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>");

  private static final List<String> BOS_NAMES = List.of("<s>", "<|begin_of_text|>", "<bos>");

  private TokenizerFiles() {}

  static Tokenizer read(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new CheckpointException(
          dir + ": not a directory; pass the checkpoint directory that holds the tokenizer files");
    }
    Path tokenizerJson = dir.resolve(TOKENIZER_JSON);
    if (Files.isRegularFile(tokenizerJson)) {
      return fromTokenizerJson(dir);
    }
    if (Files.isRegularFile(dir.resolve(VOCAB_JSON))
        && Files.isRegularFile(dir.resolve(MERGES_TXT))) {
      return fromVocabAndMerges(dir);
    }
    String hint =
        Files.isRegularFile(dir.resolve("tokenizer.model"))
            ? "; it has a SentencePiece tokenizer.model, which is not read: write tokenizer.json"
                + " with transformers' AutoTokenizer.from_pretrained(dir).save_pretrained(dir)"
            : "; copy the tokenizer files from the base model";
    throw new CheckpointException(
        dir
            + ": no tokenizer found; looked for "
            + TOKENIZER_JSON
            + ", then "
            + VOCAB_JSON
            + " + "
            + MERGES_TXT
            + " (the directory has: "
            + listing(dir)
            + ")"
            + hint);
  }

  private static Tokenizer fromTokenizerJson(Path dir) {
    Path file = dir.resolve(TOKENIZER_JSON);
    String source = file.toString();
    JsonFields root = JsonFields.parse(file);
    if (!root.has("model")) {
      throw new CheckpointException(source + ": missing required field 'model'");
    }
    BpeModel model = TokenizerJson.bpeModel(root.optObject("model"), source);
    SpecialTokens special = SpecialTokens.read(dir);
    List<AddedToken> added =
        new ArrayList<>(TokenizerJson.addedTokens(root.get("added_tokens"), source));
    for (AddedToken t : special.added()) {
      if (added.stream().noneMatch(a -> a.content().equals(t.content()))) {
        added.add(t);
      }
    }
    return new BpeTokenizer(
        model,
        added,
        Normalizer.fromJson(root.get("normalizer"), source + " normalizer"),
        PreTokenizer.fromJson(root.get("pre_tokenizer"), source + " pre_tokenizer"),
        Decoder.fromJson(root.get("decoder"), source + " decoder"),
        special.id(special.eos(), EOS_NAMES, added, model.vocab()),
        special.id(special.bos(), BOS_NAMES, added, model.vocab()),
        filesToCopy(dir, special, "PreTrainedTokenizerFast", null),
        source);
  }

  /** GPT-2's slow-tokenizer files: byte-level BPE with GPT-2's word pattern. */
  private static Tokenizer fromVocabAndMerges(Path dir) {
    Path vocabFile = dir.resolve(VOCAB_JSON);
    Path mergesFile = dir.resolve(MERGES_TXT);
    Map<String, Integer> vocab =
        TokenizerJson.vocab(JsonFields.parse(vocabFile), vocabFile.toString());
    BpeModel model =
        new BpeModel(vocab, readMerges(mergesFile), null, false, false, false, mergesFile + "");
    SpecialTokens special = SpecialTokens.read(dir).withGpt2Defaults(vocab);
    List<AddedToken> added = new ArrayList<>(special.added());
    for (String content : special.named()) {
      Integer id = vocab.get(content);
      if (id != null && added.stream().noneMatch(a -> a.content().equals(content))) {
        added.add(new AddedToken(id, content, true));
      }
    }
    return new BpeTokenizer(
        model,
        added,
        Normalizer.NONE,
        PreTokenizer.byteLevel(special.addPrefixSpace(), true),
        Decoder.BYTE_LEVEL,
        special.id(special.eos(), EOS_NAMES, added, vocab),
        special.id(special.bos(), BOS_NAMES, added, vocab),
        filesToCopy(dir, special, "GPT2Tokenizer", special.addPrefixSpace()),
        dir.toString());
  }

  private static List<String[]> readMerges(Path file) {
    List<String> lines = readLines(file);
    List<String[]> merges = new ArrayList<>(lines.size());
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.isEmpty() || (i == 0 && line.startsWith("#version"))) {
        continue;
      }
      String[] pair = TokenizerJson.mergeLine(line);
      if (pair == null) {
        throw new CheckpointException(
            file
                + ":"
                + (i + 1)
                + ": a merge must be two tokens separated by one space, was \""
                + line
                + "\"; re-download the file");
      }
      merges.add(pair);
    }
    return merges;
  }

  /**
   * The files a {@link Tokenizer#save} writes: the tokenizer files found, verbatim, plus a
   * generated tokenizer_config.json and special_tokens_map.json where the directory had none.
   */
  private static Map<String, byte[]> filesToCopy(
      Path dir, SpecialTokens special, String tokenizerClass, Boolean addPrefixSpace) {
    Map<String, byte[]> files = new LinkedHashMap<>();
    for (String name :
        List.of(
            TOKENIZER_JSON,
            VOCAB_JSON,
            MERGES_TXT,
            TOKENIZER_CONFIG,
            SPECIAL_TOKENS_MAP,
            ADDED_TOKENS)) {
      Path file = dir.resolve(name);
      if (Files.isRegularFile(file)) {
        try {
          files.put(name, Files.readAllBytes(file));
        } catch (IOException e) {
          throw new CheckpointException(file + ": cannot read: " + e + "; check the path", e);
        }
      }
    }
    files.putIfAbsent(
        TOKENIZER_CONFIG,
        utf8(
            tokenizerConfig(
                tokenizerClass, special.bos(), special.eos(), special.unk(), addPrefixSpace, 0)));
    files.putIfAbsent(
        SPECIAL_TOKENS_MAP, utf8(specialTokensMap(special.bos(), special.eos(), special.unk())));
    return files;
  }

  /**
   * A tokenizer_config.json; null values and a zero max length are left out. add_prefix_space is
   * only for GPT2Tokenizer: set on a fast Llama tokenizer it makes transformers convert from the
   * SentencePiece model, which the directory may not have.
   */
  static String tokenizerConfig(
      String tokenizerClass,
      String bos,
      String eos,
      String unk,
      Boolean addPrefixSpace,
      int modelMaxLength) {
    Map<String, Object> fields = new LinkedHashMap<>();
    fields.put("add_prefix_space", addPrefixSpace);
    fields.put("bos_token", bos);
    // Hugging Face's default (true) rewrites " ." as "."; false keeps decode(encode(x)) == x.
    fields.put("clean_up_tokenization_spaces", false);
    fields.put("eos_token", eos);
    fields.put("model_max_length", modelMaxLength == 0 ? null : modelMaxLength);
    fields.put("tokenizer_class", tokenizerClass);
    fields.put("unk_token", unk);
    return prettyJson(fields);
  }

  static String specialTokensMap(String bos, String eos, String unk) {
    Map<String, Object> fields = new LinkedHashMap<>();
    fields.put("bos_token", bos);
    fields.put("eos_token", eos);
    fields.put("unk_token", unk);
    return prettyJson(fields);
  }

  /** One field a line, as transformers writes these files; null values are left out. */
  private static String prettyJson(Map<String, Object> fields) {
    StringBuilder json = new StringBuilder("{");
    String separator = "\n";
    for (Map.Entry<String, Object> field : fields.entrySet()) {
      Object value = field.getValue();
      if (value == null) {
        continue;
      }
      JsonElement element =
          value instanceof String s
              ? JsonElementKt.JsonPrimitive(s)
              : value instanceof Boolean b
                  ? JsonElementKt.JsonPrimitive(b)
                  : JsonElementKt.JsonPrimitive((Number) value);
      json.append(separator).append("  ").append(JsonElementKt.JsonPrimitive(field.getKey()));
      json.append(": ").append(element);
      separator = ",\n";
    }
    return json.append("\n}\n").toString();
  }

  static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static List<String> readLines(Path file) {
    try {
      return Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new CheckpointException(file + ": cannot read: " + e + "; check the file", e);
    }
  }

  private static String listing(Path dir) {
    try (Stream<Path> files = Files.list(dir)) {
      List<String> names = files.map(p -> p.getFileName().toString()).sorted().toList();
      return names.isEmpty() ? "nothing" : String.join(", ", names);
    } catch (IOException e) {
      return "unreadable: " + e.getMessage();
    }
  }

  /**
   * The special tokens that tokenizer_config.json, special_tokens_map.json, added_tokens.json name.
   */
  record SpecialTokens(
      String bos,
      String eos,
      String unk,
      String pad,
      List<AddedToken> added,
      boolean addPrefixSpace,
      String source) {

    static SpecialTokens read(Path dir) {
      String bos = null;
      String eos = null;
      String unk = null;
      String pad = null;
      List<AddedToken> added = new ArrayList<>();
      boolean addPrefixSpace = false;
      List<String> sources = new ArrayList<>();
      for (String name : List.of(TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP)) {
        Path file = dir.resolve(name);
        if (!Files.isRegularFile(file)) {
          continue;
        }
        sources.add(file.toString());
        JsonFields config = JsonFields.parse(file);
        bos = bos != null ? bos : token(config, "bos_token");
        eos = eos != null ? eos : token(config, "eos_token");
        unk = unk != null ? unk : token(config, "unk_token");
        pad = pad != null ? pad : token(config, "pad_token");
        if (name.equals(TOKENIZER_CONFIG)) {
          addPrefixSpace = config.optBoolean("add_prefix_space", false);
          JsonFields decoder = config.optObject("added_tokens_decoder");
          for (String id : decoder.json().keySet()) {
            JsonFields token = decoder.optObject(id);
            added.add(
                new AddedToken(
                    parseId(id, file),
                    token.requireString("content"),
                    token.optBoolean("special", false)));
          }
        }
      }
      Path addedTokens = dir.resolve(ADDED_TOKENS);
      if (Files.isRegularFile(addedTokens)) {
        JsonFields ids = JsonFields.parse(addedTokens);
        for (String content : ids.json().keySet()) {
          added.add(new AddedToken(ids.requireInt(content), content, false));
        }
      }
      return new SpecialTokens(
          bos,
          eos,
          unk,
          pad,
          List.copyOf(added),
          addPrefixSpace,
          sources.isEmpty() ? dir.toString() : String.join(" and ", sources));
    }

    /** GPT2Tokenizer's defaults: {@code <|endoftext|>} is BOS, EOS and UNK. */
    SpecialTokens withGpt2Defaults(Map<String, Integer> vocab) {
      String endOfText = Gpt2Tokenizer.END_OF_TEXT;
      if (!vocab.containsKey(endOfText)) {
        return this;
      }
      return new SpecialTokens(
          bos != null ? bos : endOfText,
          eos != null ? eos : endOfText,
          unk != null ? unk : endOfText,
          pad,
          added,
          addPrefixSpace,
          source);
    }

    List<String> named() {
      return Stream.of(bos, eos, unk, pad).filter(t -> t != null).toList();
    }

    /** The id of a named token, else of the first known name the vocabulary has. */
    OptionalInt id(
        String content,
        List<String> knownNames,
        List<AddedToken> added,
        Map<String, Integer> vocab) {
      if (content != null) {
        Integer id = lookup(content, added, vocab);
        if (id == null) {
          throw new CheckpointException(
              source
                  + ": special token \""
                  + content
                  + "\" is neither in the vocabulary nor an added token; the tokenizer files do not"
                  + " belong together, copy them all from one model");
        }
        return OptionalInt.of(id);
      }
      for (String name : knownNames) {
        Integer id = lookup(name, added, vocab);
        if (id != null) {
          return OptionalInt.of(id);
        }
      }
      return OptionalInt.empty();
    }

    private static Integer lookup(
        String content, List<AddedToken> added, Map<String, Integer> vocab) {
      for (AddedToken t : added) {
        if (t.content().equals(content)) {
          return t.id();
        }
      }
      return vocab.get(content);
    }

    /** A token field written as a string or as {@code {"content": ...}}; null when absent. */
    private static String token(JsonFields config, String field) {
      JsonElement value = config.get(field);
      if (value instanceof JsonObject) {
        return config.optObject(field).optString("content", null);
      }
      if (value instanceof JsonPrimitive p && p.isString()) {
        return p.getContent();
      }
      return null;
    }

    private static int parseId(String id, Path file) {
      try {
        return Integer.parseInt(id);
      } catch (NumberFormatException e) {
        throw new CheckpointException(
            file + ": added_tokens_decoder key \"" + id + "\" must be a token id (an integer)");
      }
    }
  }
}
