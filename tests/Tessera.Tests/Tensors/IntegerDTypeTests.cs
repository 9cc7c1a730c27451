using Tessera.Graphs;
using O = Tessera.Graphs.Ops;

namespace Tessera.Tests.Tensors;

/// <summary>
/// The interchange integer dtypes (int8, int16, uint16, uint32, uint64): casts wrap like C, 64-bit values survive
/// exactly, elementwise arithmetic keeps the dtype, and ops that cannot take them say so.
/// </summary>
public class IntegerDTypeTests
{
    private static Tensor Eval(Func<Graph, Node> build)
    {
        var g = new Graph();
        var y = build(g);
        using var m = new TapeMachine(g);
        m.RunAll();
        // Copy out: the machine returns its buffers to the pool when disposed.
        var copy = Tensor.Empty(y.DType, y.Value!.ShapeArray());
        y.Value.CopyTo(copy);
        return copy;
    }

    [Theory]
    [InlineData(DType.Int8, 1), InlineData(DType.Int16, 2), InlineData(DType.UInt16, 2), InlineData(DType.UInt32, 4), InlineData(DType.UInt64, 8)]
    public void Sizes_names_and_clr_types_agree(DType t, int size)
    {
        Assert.Equal(size, t.SizeOf());
        Assert.Equal(t, Tensor.Zeros(t, 3).Storage.DType);
        Assert.True(t.IsInteger());
        Assert.Equal(t.ToString().ToLowerInvariant(), t.Name());
    }

    [Fact]
    public void Casts_between_integers_wrap_like_c()
    {
        var x = Tensor.FromArray(new long[] { -1, 255, 256, -129, 70000 }, 5);
        Assert.Equal(new byte[] { 255, 255, 0, 127, 112 }, Eval(g => O.Cast(g.Constant(x), DType.UInt8)).ToArray<byte>());
        Assert.Equal(new sbyte[] { -1, -1, 0, 127, 112 }, Eval(g => O.Cast(g.Constant(x), DType.Int8)).ToArray<sbyte>());
        Assert.Equal(new short[] { -1, 255, 256, -129, 4464 }, Eval(g => O.Cast(g.Constant(x), DType.Int16)).ToArray<short>());
        Assert.Equal(new ushort[] { 65535, 255, 256, 65407, 4464 }, Eval(g => O.Cast(g.Constant(x), DType.UInt16)).ToArray<ushort>());
        Assert.Equal(new uint[] { uint.MaxValue, 255, 256, 4294967167, 70000 }, Eval(g => O.Cast(g.Constant(x), DType.UInt32)).ToArray<uint>());
        Assert.Equal(new ulong[] { ulong.MaxValue, 255, 256, unchecked((ulong)-129L), 70000 }, Eval(g => O.Cast(g.Constant(x), DType.UInt64)).ToArray<ulong>());
    }

    [Fact]
    public void Uint64_values_above_2_pow_53_survive_casts_exactly()
    {
        // 2^60 + 1 has no exact double: a cast through double would round it to 2^60.
        ulong big = (1UL << 60) + 1, top = ulong.MaxValue - 2;
        var x = Tensor.FromArray(new[] { big, top }, 2);
        Assert.Equal(new long[] { (long)big, -3 }, Eval(g => O.Cast(g.Constant(x), DType.Int64)).ToArray<long>());
        var back = Eval(g => O.Cast(O.Cast(g.Constant(x), DType.Int64), DType.UInt64)).ToArray<ulong>();
        Assert.Equal(new[] { big, top }, back);
        Assert.Equal((float)top, Eval(g => O.Cast(g.Constant(x), DType.Float32)).ToArray<float>()[1]);
    }

    [Fact]
    public void Floats_cast_to_narrow_integers_truncate_toward_zero()
    {
        var x = Tensor.FromArray(new[] { -1.7f, 2.9f, 100.5f, float.NaN }, 4);
        Assert.Equal(new sbyte[] { -1, 2, 100, 0 }, Eval(g => O.Cast(g.Constant(x), DType.Int8)).ToArray<sbyte>());
        Assert.Equal(new ushort[] { 65535, 2, 100, 0 }, Eval(g => O.Cast(g.Constant(x), DType.UInt16)).ToArray<ushort>());
    }

    [Fact]
    public void Elementwise_arithmetic_keeps_the_dtype_and_wraps()
    {
        var a = Tensor.FromArray(new sbyte[] { 127, -128, 5 }, 3);
        var b = Tensor.FromArray(new sbyte[] { 1, -1, -7 }, 3);
        var sum = Eval(g => O.Add(g.Constant(a), g.Constant(b)));
        Assert.Equal(DType.Int8, sum.DType);
        Assert.Equal(new sbyte[] { -128, 127, -2 }, sum.ToArray<sbyte>());
        Assert.Equal(new sbyte[] { 127, -1, 5 }, Eval(g => O.Maximum(g.Constant(a), g.Constant(b))).ToArray<sbyte>());
        var u = Tensor.FromArray(new ulong[] { ulong.MaxValue, 3 }, 2);
        var v = Tensor.FromArray(new ulong[] { ulong.MaxValue - 1, 4 }, 2);
        Assert.Equal(new ulong[] { ulong.MaxValue - 1, 3 }, Eval(g => O.Minimum(g.Constant(u), g.Constant(v))).ToArray<ulong>());
        Assert.Equal(new[] { false, true }, Eval(g => O.Less(g.Constant(u), g.Constant(v))).ToArray<bool>());
    }

    [Fact]
    public void Reductions_run_on_narrow_integers()
    {
        var x = Tensor.FromArray(new ushort[] { 1, 2, 3, 60000 }, 2, 2);
        Assert.Equal(new ushort[] { 3, 60003 }, Eval(g => O.Sum(g.Constant(x), [1])).ToArray<ushort>());
    }

    [Fact]
    public void BitShift_keeps_the_width_of_each_unsigned_dtype()
    {
        var a16 = Tensor.FromArray(new ushort[] { 0x8001, 1 }, 2);
        var s16 = Tensor.FromArray(new ushort[] { 1, 15 }, 2);
        Assert.Equal(new ushort[] { 2, 0x8000 }, Eval(g => g.Apply(new BitShiftOp(true), g.Constant(a16), g.Constant(s16))).ToArray<ushort>());
        var a64 = Tensor.FromArray(new ulong[] { 1, ulong.MaxValue }, 2);
        var s64 = Tensor.FromArray(new ulong[] { 63, 60 }, 2);
        Assert.Equal(new ulong[] { 1UL << 63, 0xF000_0000_0000_0000 }, Eval(g => g.Apply(new BitShiftOp(true), g.Constant(a64), g.Constant(s64))).ToArray<ulong>());
        Assert.Equal(new ulong[] { 0, 15 }, Eval(g => g.Apply(new BitShiftOp(false), g.Constant(a64), g.Constant(s64))).ToArray<ulong>());
    }

    [Fact]
    public void BitShift_on_signed_integers_is_refused_with_the_dtype()
    {
        var g = new Graph();
        var e = Assert.Throws<DTypeMismatchException>(() => g.Apply(new BitShiftOp(true), g.Vector(DType.Int32, 2), g.Vector(DType.Int32, 2)));
        Assert.Contains("int32", e.Message);
    }

    [Fact]
    public void Float_only_ops_name_the_new_dtypes()
    {
        var g = new Graph();
        var e = Assert.Throws<DTypeMismatchException>(() => O.Exp(g.Vector(DType.UInt16, 3)));
        Assert.Contains("uint16", e.Message);
    }
}

/// <summary>bfloat16 as a storage type: conversions truncate like the ONNX reference, arithmetic asks for a cast.</summary>
public class BFloat16Tests
{
    [Fact]
    public void Narrowing_keeps_the_upper_16_bits_and_widening_is_exact()
    {
        float v = BitConverter.UInt32BitsToSingle(0x3F81_FFFF);   // 1.0156249...: truncates to 0x3F81, would round to 0x3F82
        Assert.Equal((ushort)0x3F81, ((BFloat16)v).Bits);
        Assert.Equal(1.0078125f, (float)(BFloat16)v);
        Assert.Equal(-2.5f, (float)(BFloat16)(-2.5f));
        Assert.True(float.IsNaN((float)(BFloat16)BitConverter.UInt32BitsToSingle(0x7F80_0001)));   // payload only in dropped bits
        Assert.True(float.IsPositiveInfinity((float)(BFloat16)float.PositiveInfinity));
    }

    [Fact]
    public void Casts_and_storage_round_trip_through_float32()
    {
        var x = Tensor.FromArray(new[] { 1.5f, -3.25f, 1e30f }, 3);
        var g = new Graph();
        var y = O.Cast(O.Cast(g.Constant(x), DType.BFloat16), DType.Float32);
        using var m = new TapeMachine(g);
        m.RunAll();
        Assert.Equal(new[] { 1.5f, -3.25f, (float)(BFloat16)1e30f }, y.Value!.ToArray<float>());
        Assert.Equal(2, DType.BFloat16.SizeOf());
        Assert.Equal("bfloat16", DType.BFloat16.Name());
    }

    [Fact]
    public void Arithmetic_on_bfloat16_names_the_dtype()
    {
        var g = new Graph();
        var e = Assert.Throws<DTypeMismatchException>(() => O.Add(g.Vector(DType.BFloat16, 2), g.Vector(DType.BFloat16, 2)));
        Assert.Contains("bfloat16", e.Message);
    }
}
