using Tessera.Graphs;
using Xunit;
using static Tessera.Graphs.Ops;

namespace Tessera.Tests.Graphs;

/// <summary>
/// Values beside tensors (<see cref="ValueOperation"/>): a sequence keeps the value it was built from even when memory
/// planning hands that value's buffer to a later step; ordinary ops refuse container inputs; no gradient.
/// </summary>
public class ValueOperationTests
{
    [Fact]
    public void A_sequence_keeps_its_tensor_after_the_source_buffer_is_reused()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [4], "x");
        var a = Exp(x);                                          // its buffer is free once the sequence is built
        var seq = g.Apply(new SequenceConstructOp(), a);
        var later = new List<Node> { Neg(x) };
        for (int i = 0; i < 4; i++) later.Add(Tanh(later[^1]));  // later steps that take a's freed slot
        var h = later[^1];
        var at = g.Apply(new SequenceAtOp(), seq, g.Constant(Tensor.Scalar(0L)));
        var y = Add(at, Mul(h, g.Constant(Tensor.Full(0, DType.Float32, 4))));
        using var reuse = new TapeMachine(g, y) { ReuseBuffers = true };
        Assert.True(reuse.BufferCount <= reuse.StepCount);
        var input = Tensor.FromArray(new float[] { 0, 1, -1, 2 }, 4);
        Graph.Let(x, input);
        reuse.RunAll();
        var expected = input.ToArray<float>().Select(MathF.Exp).ToArray();
        var actual = y.Value!.ToArray<float>();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-5 * (1 + expected[i]));
        // The hazard is real: the plan put a later step in a's buffer, so a sequence aliasing it would read that step's value.
        Assert.Contains(later, n => ReferenceEquals(n.Value!.Storage, a.Value!.Storage));
    }

    [Fact]
    public void Ordinary_ops_refuse_a_sequence_input()
    {
        var g = new Graph();
        var seq = g.Apply(new SequenceEmptyOp(DType.Float32));
        var e = Assert.Throws<ArgumentException>(() => Exp(seq));
        Assert.Contains("not a tensor", e.Message);
    }

    [Fact]
    public void Asking_for_a_gradient_through_a_sequence_names_the_op()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [3], "x");
        var seq = g.Apply(new SequenceConstructOp(), x);
        var at = g.Apply(new SequenceAtOp(), seq, g.Constant(Tensor.Scalar(0L)));
        var cost = Sum(at);
        var e = Assert.Throws<NotSupportedException>(() => Autodiff.Grad(cost, x));
        Assert.Contains("SequenceAt is not differentiable", e.Message);
    }

    [Fact]
    public void LetValue_checks_kind_and_element_dtype()
    {
        var g = new Graph();
        var s = g.Input(TensorType.Of(ValueKind.Sequence, DType.Float32, [2]), "s");
        Assert.Throws<ArgumentException>(() => Graph.LetValue(s, new OptionalValue(Tensor.Zeros(DType.Float32, 2))));
        Assert.Throws<DTypeMismatchException>(() => Graph.LetValue(s, new TensorSequence(DType.Int64, [Tensor.Zeros(DType.Int64, 2)])));
        Graph.LetValue(s, new TensorSequence(DType.Float32, [Tensor.Zeros(DType.Float32, 2)]));
        var len = g.Apply(new SequenceLengthOp(), s);
        using var m = new TapeMachine(g, len);
        m.RunAll();
        Assert.Equal(1L, len.Value!.ToArray<long>()[0]);
    }
}
