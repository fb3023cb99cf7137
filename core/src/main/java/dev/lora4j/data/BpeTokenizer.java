package dev.lora4j.data;

import dev.lora4j.data.PreTokenizer.Piece;
import dev.lora4j.data.TokenizerJson.AddedToken;
import dev.lora4j.io.AtomicFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A BPE tokenizer read from a checkpoint's tokenizer files, encoding the way Hugging Face's {@code
 * tokenizers} crate does: added tokens are cut out of the text first, the rest is normalized,
 * pre-tokenized and merged word by word. {@link #save} writes the files it was read from unchanged.
 */
final class BpeTokenizer implements Tokenizer {
  private final BpeModel model;
  private final String[] tokenById;
  private final Map<String, Integer> addedTokenIds;
  private final Pattern addedTokenPattern;
  private final Normalizer normalizer;
  private final PreTokenizer preTokenizer;
  private final Decoder decoder;
  private final OptionalInt eos;
  private final OptionalInt bos;
  private final Map<String, byte[]> files;
  private final String source;

  BpeTokenizer(
      BpeModel model,
      List<AddedToken> addedTokens,
      Normalizer normalizer,
      PreTokenizer preTokenizer,
      Decoder decoder,
      OptionalInt eos,
      OptionalInt bos,
      Map<String, byte[]> files,
      String source) {
    this.model = model;
    this.normalizer = normalizer;
    this.preTokenizer = preTokenizer;
    this.decoder = decoder;
    this.eos = eos;
    this.bos = bos;
    this.files = new LinkedHashMap<>(files);
    this.source = source;
    int size = 0;
    for (int id : model.vocab().values()) {
      size = Math.max(size, id + 1);
    }
    for (AddedToken t : addedTokens) {
      size = Math.max(size, t.id() + 1);
    }
    tokenById = new String[size];
    model.vocab().forEach((token, id) -> tokenById[id] = token);
    addedTokenIds = new HashMap<>();
    for (AddedToken t : addedTokens) {
      tokenById[t.id()] = t.content();
      addedTokenIds.put(t.content(), t.id());
    }
    // Longest first, so that the alternation matches leftmost-longest as Hugging Face does.
    addedTokenPattern =
        addedTokens.isEmpty()
            ? null
            : Pattern.compile(
                addedTokenIds.keySet().stream()
                    .sorted(Comparator.comparingInt(String::length).reversed())
                    .map(Pattern::quote)
                    .collect(Collectors.joining("|")));
  }

  @Override
  public int[] encode(String text) {
    IntList ids = new IntList(text.length() / 3 + 4);
    int last = 0;
    if (addedTokenPattern != null) {
      Matcher matcher = addedTokenPattern.matcher(text);
      while (matcher.find()) {
        encodeSegment(text.substring(last, matcher.start()), last == 0, ids);
        ids.add(addedTokenIds.get(matcher.group()));
        last = matcher.end();
      }
    }
    encodeSegment(text.substring(last), last == 0, ids);
    return ids.toArray();
  }

  private void encodeSegment(String segment, boolean atStart, IntList ids) {
    if (segment.isEmpty()) {
      return;
    }
    String normalized = normalizer.normalize(segment);
    for (Piece word : preTokenizer.apply(List.of(new Piece(normalized, atStart)))) {
      model.tokenize(word.text(), ids);
    }
  }

  @Override
  public String decode(int[] ids) {
    List<String> tokens = new ArrayList<>(ids.length);
    for (int id : ids) {
      String token = id >= 0 && id < tokenById.length ? tokenById[id] : null;
      if (token == null) {
        throw new IllegalArgumentException(
            "token id "
                + id
                + " is not in the vocabulary of "
                + source
                + " (ids 0 to "
                + (tokenById.length - 1)
                + "); decode ids made by this tokenizer");
      }
      tokens.add(token);
    }
    return String.join("", decoder.decode(tokens));
  }

  @Override
  public int vocabSize() {
    return tokenById.length;
  }

  @Override
  public OptionalInt eosTokenId() {
    return eos;
  }

  @Override
  public OptionalInt bosTokenId() {
    return bos;
  }

  @Override
  public void save(Path dir) {
    files.forEach((name, bytes) -> AtomicFiles.write(dir.resolve(name), out -> out.write(bytes)));
  }

  @Override
  public String toString() {
    return "BpeTokenizer(" + source + ", " + vocabSize() + " tokens)";
  }
}
