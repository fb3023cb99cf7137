package dev.lora4j.quant;

import org.tensorflow.DeviceSpec;
import org.tensorflow.ExecutionEnvironment;
import org.tensorflow.Operation;
import org.tensorflow.OperationBuilder;
import org.tensorflow.op.Scope;

/**
 * A scope whose ops carry Grappler's `_recompute_hint`. With the memory optimizer in MANUAL mode
 * (see {@link QuantizedWeight#configure}), the backward pass recomputes these ops instead of
 * keeping their forward outputs alive: a dequantized weight then lives from its matmul to the end
 * of that matmul, forward and backward, instead of for the whole training step.
 */
final class RecomputeScope implements Scope {
  static final String HINT = "_recompute_hint";
  private final Scope delegate;

  RecomputeScope(Scope delegate) {
    this.delegate = delegate;
  }

  @Override
  public ExecutionEnvironment env() {
    return delegate.env();
  }

  @Override
  public Scope withSubScope(String childScopeName) {
    return new RecomputeScope(delegate.withSubScope(childScopeName));
  }

  @Override
  public Scope withName(String opName) {
    return new RecomputeScope(delegate.withName(opName));
  }

  @Override
  public Scope withNameAsSubScope(String defaultName) {
    return new RecomputeScope(delegate.withNameAsSubScope(defaultName));
  }

  @Override
  public Scope withDevice(DeviceSpec deviceSpec) {
    return new RecomputeScope(delegate.withDevice(deviceSpec));
  }

  @Override
  public Scope withInitScope() {
    return new RecomputeScope(delegate.withInitScope());
  }

  @Override
  public String makeOpName(String defaultName) {
    return delegate.makeOpName(defaultName);
  }

  @Override
  public String makeUnique(String id) {
    return delegate.makeUnique(id);
  }

  @Override
  public void refreshNames() {
    delegate.refreshNames();
  }

  @Override
  public Scope withControlDependencyOps(Iterable<Operation> controls) {
    return new RecomputeScope(delegate.withControlDependencyOps(controls));
  }

  @Override
  public OperationBuilder apply(OperationBuilder builder) {
    return delegate.apply(builder).setAttr(HINT, 0L);
  }

  @Override
  public String getDeviceString() {
    return delegate.getDeviceString();
  }

  @Override
  public boolean isInit() {
    return delegate.isInit();
  }
}
