/**
 * What a trained LoRA adapter learned, computed from its factors alone (never a d×d SVD): the
 * spectrum and effective rank of each ΔW = scale·B·A ({@link dev.lora4j.analysis.ModuleSpectrum}),
 * how much two adapters' input subspaces overlap ({@link dev.lora4j.analysis.SubspaceSimilarity},
 * the φ of the LoRA paper, section 7), how strongly ΔW amplifies directions the base weight barely
 * uses ({@link dev.lora4j.analysis.Amplification}) and how all of these evolve over the checkpoints
 * of a run ({@link dev.lora4j.analysis.TrainingStatistics}). Used by `lora4j inspect` and `lora4j
 * compare` and by notebooks.
 */
package dev.lora4j.analysis;
