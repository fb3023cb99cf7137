/**
 * Training data: {@link dev.lora4j.data.Tokenizer}s that give the ids a Hugging Face tokenizer
 * gives (the built-in GPT-2 vocabulary, or a checkpoint's tokenizer.json or vocab.json +
 * merges.txt, byte-level or with byte fallback), {@link dev.lora4j.data.SequenceDataset}, which
 * turns text, JSON Lines prompt/completion pairs or pre-tokenized ids into fixed-length rows with
 * loss masks and a seeded validation split, and {@link dev.lora4j.data.BatchIterator}, which serves
 * seeded, shuffled batches epoch after epoch and resumes exactly from a saved position. Bad input
 * is reported with the file, the line, the value and the fix.
 */
package dev.lora4j.data;
