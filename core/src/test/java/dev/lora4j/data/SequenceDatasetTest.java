package dev.lora4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.io.CheckpointException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Files to rows. Most cases use {@link CharTokenizer} (id = character code, EOS = 1) so that the
 * expected rows can be written out: 'a' = 97, 'b' = 98, 'c' = 99, 'd' = 100.
 */
class SequenceDatasetTest {
  static final int A = 97;
  static final int B = 98;
  static final int C = 99;
  static final int D = 100;
  static final int EOS = 1;

  @TempDir Path dir;

  private Path write(String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text);
  }

  private static DataOptions options(int seqLen) {
    return DataOptions.defaults(seqLen).withValidation(0, 0);
  }

  private static SequenceDataset load(Path file, DataOptions options) {
    return SequenceDataset.load(List.of(file), options, CharTokenizer.withEos(), 128);
  }

  private static String error(Runnable load) {
    return assertThrows(CheckpointException.class, load::run).getMessage();
  }

  @Test
  void textDocumentsEndWithEosAndPackIntoRowsThatShareOneToken() throws IOException {
    Path file = write("fortunes", "ab\n%\ncd\n%\n");
    SequenceDataset data = load(file, options(3).withDocumentSeparator("%"));
    // stream a b EOS c d EOS; rows start every 2 tokens; the tail [d, EOS] is too short
    assertEquals(
        List.of(
            new Sequence(new int[] {A, B, EOS}, new float[] {1, 1}),
            new Sequence(new int[] {EOS, C, D}, new float[] {1, 1})),
        data.train());
    assertEquals(List.of(), data.validation());
    assertEquals(6, data.trainTokens());
  }

  @Test
  void withoutSeparatorEachFileIsOneDocument() throws IOException {
    Path first = write("one.txt", "ab\n\ncd");
    Path second = write("two.txt", "a");
    SequenceDataset data =
        SequenceDataset.load(List.of(first, second), options(4), CharTokenizer.withEos(), 128);
    // a b \n \n | \n c d EOS | EOS a EOS
    assertEquals(2, data.train().size());
    assertArrayEquals(new int[] {A, B, '\n', '\n'}, data.train().get(0).ids());
    assertArrayEquals(new int[] {'\n', C, D, EOS}, data.train().get(1).ids());
  }

  @Test
  void blankLinesSeparateDocuments() throws IOException {
    Path file = write("paragraphs.txt", "ab\n \n\n\ncd\r\n\r\nab\n");
    SequenceDataset data = load(file, options(3).withDocumentSeparator("\n\n"));
    // documents "ab", "cd", "ab": a b EOS c d EOS a b EOS
    assertEquals(4, data.train().size());
    assertArrayEquals(new int[] {D, EOS, A}, data.train().get(2).ids());
  }

  @Test
  void gzipFilesAreReadAsText() throws IOException {
    Path file = dir.resolve("text.txt.gz");
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
      out.write("abcd".getBytes(StandardCharsets.UTF_8));
    }
    assertEquals(DataFormat.TEXT, DataFormat.detect(file));
    assertArrayEquals(new int[] {A, B, C, D, EOS}, load(file, options(5)).train().get(0).ids());
  }

  @Test
  void bosIsAddedWhenTheTokenizerHasOneThatIsNotEos() throws IOException {
    Path file = write("docs.jsonl", "{\"text\": \"ab\"}\n\n{\"text\": \"cd\"}\n");
    Tokenizer llamaLike = new CharTokenizer(OptionalInt.of(2), OptionalInt.of(1));
    SequenceDataset data = SequenceDataset.load(List.of(file), options(4), llamaLike, 128);
    // <s> a b </s> <s> c d </s>
    assertArrayEquals(new int[] {1, A, B, 2}, data.train().get(0).ids());
    assertArrayEquals(new int[] {2, 1, C, D}, data.train().get(1).ids());
  }

  @Test
  void jsonlTextUsesTheNamedField() throws IOException {
    Path file = write("docs.jsonl", "{\"body\": \"abc\", \"id\": 1}\n");
    DataOptions options = options(4).withFields("body", "prompt", "completion");
    assertEquals(DataFormat.JSONL_TEXT, DataFormat.detect(file, options));
    assertArrayEquals(new int[] {A, B, C, EOS}, load(file, options).train().get(0).ids());
  }

  @Test
  void promptCompletionScoresTheCompletionAndEosOnly() throws IOException {
    Path file = write("qa.jsonl", "{\"prompt\": \"ab\", \"completion\": \"cd\"}\n");
    assertEquals(DataFormat.PROMPT_COMPLETION, DataFormat.detect(file));
    Sequence row = load(file, options(8)).train().get(0);
    // a b c d EOS, padded with EOS; labels c, d, EOS are scored
    assertArrayEquals(new int[] {A, B, C, D, EOS, EOS, EOS, EOS}, row.ids());
    assertArrayEquals(new float[] {0, 1, 1, 1, 0, 0, 0}, row.lossMask());

    Sequence unmasked = load(file, options(8).withMaskPrompt(false)).train().get(0);
    assertArrayEquals(new float[] {1, 1, 1, 1, 0, 0, 0}, unmasked.lossMask());
  }

  @Test
  void longCompletionsAreCutAtSeqLen() throws IOException {
    Path file = write("qa.jsonl", "{\"prompt\": \"ab\", \"completion\": \"cdcdcd\"}\n");
    Sequence row = load(file, options(4)).train().get(0);
    assertArrayEquals(new int[] {A, B, C, D}, row.ids());
    assertArrayEquals(new float[] {0, 1, 1}, row.lossMask());
  }

  @Test
  void promptCompletionWithGpt2MasksExactlyThePromptTokens() throws IOException {
    Path file =
        write("qa.jsonl", "{\"prompt\": \"Q: Hello world?\\nA:\", \"completion\": \" Hi!\"}\n");
    Tokenizer gpt2 = Tokenizer.gpt2();
    Sequence row = SequenceDataset.load(List.of(file), options(16), gpt2, 50257).train().get(0);
    int prompt = gpt2.encode("Q: Hello world?\nA:").length;
    int completion = gpt2.encode(" Hi!").length;
    assertEquals(completion + 1, row.scoredLabels()); // the completion and EOS
    assertEquals(1f, row.lossMask()[prompt - 1]); // the first completion token is a label
    assertEquals(0f, row.lossMask()[prompt - 2]);
    assertEquals(
        " Hi!<|endoftext|>",
        gpt2.decode(Arrays.copyOfRange(row.ids(), prompt, prompt + completion + 1)));
  }

  @Test
  void promptThatFillsSeqLenIsRefused() throws IOException {
    Path file =
        write(
            "qa.jsonl",
            "{\"prompt\": \"ab\", \"completion\": \"c\"}\n{\"prompt\": \"abcd\", \"completion\": \"c\"}\n");
    String m = error(() -> load(file, options(4)));
    assertTrue(m.contains(file + ":2: the prompt alone is 4 tokens, which fills seq_len 4"), m);
    assertTrue(m.contains("raise --seq-len above 4 or shorten the prompt"), m);
  }

  @Test
  void tokenizedRowsOfSeqLenAreKeptAndOthersPackedWithoutSeparators() throws IOException {
    Path file =
        write(
            "ids.jsonl",
            "{\"input_ids\": [5, 6, 7]}\n{\"input_ids\": [8, 9]}\n{\"input_ids\": [10]}\n");
    assertEquals(DataFormat.TOKENIZED, DataFormat.detect(file));
    SequenceDataset data = SequenceDataset.load(List.of(file), options(3), null, 16);
    assertEquals(
        List.of(new int[] {5, 6, 7}, new int[] {8, 9, 10}).stream().map(Arrays::toString).toList(),
        data.train().stream().map(s -> Arrays.toString(s.ids())).toList());
  }

  @Test
  void tokenIdOutsideTheVocabularyIsNamedWithFileAndLine() throws IOException {
    Path file = write("ids.jsonl", "{\"input_ids\": [1, 2]}\n{\"input_ids\": [3, 50257]}\n");
    String m = error(() -> SequenceDataset.load(List.of(file), options(2), null, 50257));
    assertTrue(
        m.contains(file + ":2: input_ids[1] = 50257 is outside the model's vocabulary [0, 50257)"),
        m);

    Path negative = write("neg.jsonl", "{\"input_ids\": [-1]}\n");
    m = error(() -> SequenceDataset.load(List.of(negative), options(2), null, 100));
    assertTrue(m.contains(negative + ":1: input_ids[0] = -1 is outside"), m);

    Path fractional = write("frac.jsonl", "{\"input_ids\": [1.5]}\n");
    m = error(() -> SequenceDataset.load(List.of(fractional), options(2), null, 100));
    assertTrue(m.contains("input_ids[0] must be an integer token id, was 1.5"), m);
  }

  @Test
  void tokenizerIdsOutsideTheModelVocabularyAreRefused() throws IOException {
    Path file = write("text.txt", "abc");
    String m =
        error(() -> SequenceDataset.load(List.of(file), options(2), CharTokenizer.withEos(), 98));
    assertTrue(m.contains("the tokenizer made id 98, outside the model's vocabulary [0, 98)"), m);
  }

  @Test
  void badJsonLinesNameFileLineAndFix() throws IOException {
    Path notJson = write("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": oops}\n");
    String m = error(() -> load(notJson, options(2)));
    assertTrue(m.contains(notJson + ":2: not valid JSON (unquoted word oops)"), m);

    Path broken = write("broken.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"x\"\n");
    m = error(() -> load(broken, options(2)));
    assertTrue(m.contains(broken + ":2: not valid JSON ("), m);
    assertTrue(m.contains("each line must be one JSON object"), m);

    Path notObject = write("list.jsonl", "{\"text\": \"ok\"}\n[1, 2]\n");
    m = error(() -> load(notObject, options(2)));
    assertTrue(m.contains(notObject + ":2: must be a JSON object {...}, was [1, 2]"), m);

    Path missing = write("missing.jsonl", "{\"text\": \"ok\"}\n{\"content\": \"x\", \"id\": 3}\n");
    m = error(() -> load(missing, options(2)));
    assertTrue(m.contains(missing + ":2: no field 'text' (the object has fields content, id)"), m);
    assertTrue(m.contains("name the field with --text-field"), m);

    Path wrongType = write("number.jsonl", "{\"text\": 42}\n");
    m = error(() -> load(wrongType, options(2)));
    assertTrue(m.contains(wrongType + ":1: field 'text' must be a string, was 42"), m);
  }

  @Test
  void formatDetection() throws IOException {
    assertEquals(DataFormat.TEXT, DataFormat.detect(write("fortunes", "A fortune.\n%\n")));
    assertEquals(DataFormat.TEXT, DataFormat.detect(write("code.txt", "{ not json at all\n")));
    assertEquals(DataFormat.JSONL_TEXT, DataFormat.detect(write("d.jsonl", "\n{\"text\": \"x\"}")));
    Path odd = write("odd.jsonl", "{\"foo\": 1, \"bar\": 2}\n");
    String m = error(() -> DataFormat.detect(odd));
    assertTrue(
        m.contains("odd.jsonl:1: cannot tell the format: the object has fields foo, bar"), m);
    Path array = write("array.json", "[{\"text\": \"x\"}]\n");
    m = error(() -> DataFormat.detect(array));
    assertTrue(m.contains("array.json:1: starts a JSON array; write JSON Lines instead"), m);
    Path plain = write("plain.jsonl", "just words\n");
    m = error(() -> DataFormat.detect(plain));
    assertTrue(m.contains("plain.jsonl:1: expected a JSON object per line, was just words"), m);
  }

  @Test
  void missingOrUnreadableFilesAreNamed() throws IOException {
    Path absent = dir.resolve("absent.txt");
    String m = error(() -> load(absent, options(2)));
    assertTrue(m.contains(absent + ": file not found; check the path"), m);

    m = error(() -> load(dir, options(2).withFormat(DataFormat.TEXT)));
    assertTrue(m.contains(dir + ": is a directory; pass the data files in it"), m);

    Path latin1 = dir.resolve("latin1.txt");
    Files.write(latin1, "line one\nline two\ncaf\u00e9\n".getBytes(StandardCharsets.ISO_8859_1));
    m = error(() -> load(latin1, options(2)));
    assertTrue(m.contains(latin1 + ":3: not valid UTF-8 text; re-save the file as UTF-8"), m);
  }

  @Test
  void tooLittleTextForOneRowSaysHowMuchIsNeeded() throws IOException {
    Path file = write("short.txt", "a".repeat(36)); // 36 + EOS = 37 tokens
    String m = error(() -> load(file, options(128)));
    assertTrue(m.contains(file + " has 37 tokens; seq_len 128 needs at least 128 for one row"), m);
    assertTrue(m.contains("lower --seq-len or add data"), m);

    Path empty = write("empty.jsonl", "\n\n");
    m = error(() -> load(empty, options(8)));
    assertTrue(m.contains(empty + " holds no data"), m);
  }

  @Test
  void validationIsASeededFractionOfTheRowsInFileOrder() throws IOException {
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < 20; i++) {
      lines.append("{\"input_ids\": [").append(i).append(", ").append(i).append("]}\n");
    }
    Path file = write("ids.jsonl", lines.toString());
    DataOptions options = DataOptions.defaults(2).withValidation(0.2, 42);
    SequenceDataset data = SequenceDataset.load(List.of(file), options, null, 64);
    assertEquals(16, data.train().size());
    assertEquals(4, data.validation().size());
    List<Integer> all = new ArrayList<>();
    data.train().forEach(s -> all.add(s.ids()[0]));
    data.validation().forEach(s -> all.add(s.ids()[0]));
    assertEquals(20, all.stream().distinct().count());
    assertTrue(isSorted(data.train()) && isSorted(data.validation()));

    SequenceDataset again = SequenceDataset.load(List.of(file), options, null, 64);
    assertEquals(data.validation(), again.validation());
    SequenceDataset otherSeed =
        SequenceDataset.load(List.of(file), options.withValidation(0.2, 43), null, 64);
    assertNotEquals(data.validation(), otherSeed.validation());
  }

  @Test
  void smallFractionsStillHoldOutOneRowButNeverAll() throws IOException {
    Path two = write("two.jsonl", "{\"input_ids\": [1, 2]}\n{\"input_ids\": [3, 4]}\n");
    SequenceDataset data =
        SequenceDataset.load(
            List.of(two), DataOptions.defaults(2).withValidation(0.01, 0), null, 8);
    assertEquals(1, data.train().size());
    assertEquals(1, data.validation().size());

    Path one = write("one.jsonl", "{\"input_ids\": [1, 2]}\n");
    data =
        SequenceDataset.load(List.of(one), DataOptions.defaults(2).withValidation(0.5, 0), null, 8);
    assertEquals(1, data.train().size());
    assertEquals(0, data.validation().size());
  }

  @Test
  void realTextWithGpt2PacksTheTokenStream() {
    Path file = Gpt2TokenizerTest.resourcePath("sample-text.txt");
    Tokenizer gpt2 = Tokenizer.gpt2();
    SequenceDataset data = SequenceDataset.load(List.of(file), options(64), gpt2, 50257);
    int[] stream = gpt2.encode(Gpt2TokenizerTest.resource("sample-text.txt"));
    int tokens = stream.length + 1; // EOS
    assertEquals((tokens - 1) / 63, data.train().size());
    assertArrayEquals(Arrays.copyOfRange(stream, 63, 127), data.train().get(1).ids());
  }

  private static boolean isSorted(List<Sequence> rows) {
    for (int i = 1; i < rows.size(); i++) {
      if (rows.get(i - 1).ids()[0] >= rows.get(i).ids()[0]) {
        return false;
      }
    }
    return true;
  }
}
