package dev.lora4j.compile;

import org.tensorflow.Operand;
import org.tensorflow.op.core.PlaceholderWithDefault;
import org.tensorflow.types.TFloat32;

/**
 * The training loss and the start of its backward pass, written by hand down to the hidden rows
 * that enter the output head: autodiff takes over from {@link #dScoredRows} (see {@link
 * CompiledModel#gradientsOf}).
 *
 * @param value mean next-token cross-entropy over the scored positions
 * @param mask [B, T-1] weights of the scored positions; all ones when not fed
 * @param scoredRows [B*T, d] the hidden rows the loss's head reads (the last position of each
 *     sequence with weight 0)
 * @param dScoredRows d value / d scoredRows
 * @param headWeight the head's weight as the forward pass reads it ([V, d])
 * @param dHeadWeight the head matmul's own term of d value / d headWeight (a tied head also gets
 *     the embedding's term from autodiff)
 */
record LossGraph(
    Operand<TFloat32> value,
    PlaceholderWithDefault<TFloat32> mask,
    Operand<TFloat32> scoredRows,
    Operand<TFloat32> dScoredRows,
    Operand<TFloat32> headWeight,
    Operand<TFloat32> dHeadWeight) {}
