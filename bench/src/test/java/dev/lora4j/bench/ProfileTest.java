package dev.lora4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.AllocationDescription;
import org.tensorflow.proto.NodeExecStats;
import org.tensorflow.proto.NodeOutput;
import org.tensorflow.proto.TensorDescription;
import org.tensorflow.proto.TensorShapeProto;

/** The profile names each op with the shapes it produced and measures the timeline's overlap. */
class ProfileTest {
  static NodeOutput output(long... dims) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    for (long d : dims) {
      shape.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
    }
    return NodeOutput.newBuilder()
        .setTensorDescription(
            TensorDescription.newBuilder()
                .setShape(shape)
                .setAllocationDescription(AllocationDescription.getDefaultInstance()))
        .build();
  }

  @Test
  void outputShapesAreWrittenAsTheTraceRecordsThem() {
    NodeExecStats matmul = NodeExecStats.newBuilder().addOutput(output(1016, 5000)).build();
    assertEquals("[1016x5000]", Profile.outputShapes(matmul));
    NodeExecStats twoOutputs =
        NodeExecStats.newBuilder().addOutput(output()).addOutput(output(3, 8, 4)).build();
    assertEquals("[scalar, 3x8x4]", Profile.outputShapes(twoOutputs));
    assertEquals("[]", Profile.outputShapes(NodeExecStats.getDefaultInstance()));
  }

  @Test
  void timelineCountsBusyAndOverlappingTime() {
    // Two ops overlap for 5 µs within a 30 µs span; 10 µs between them and a third op are idle.
    Profile.Timeline t =
        Profile.Timeline.of(List.of(new long[] {0, 10}, new long[] {5, 15}, new long[] {25, 30}));
    assertEquals(new Profile.Timeline(30, 20, 5), t);
  }
}
