using Tessera.Onnx.Proto;

namespace Tessera.Onnx.Tests;

/// <summary>TensorProto I/O of the interchange integer dtypes: raw data round trips, typed fields read per onnx.proto.</summary>
public class OnnxTensorDTypeTests
{
    public static TheoryData<Tensor> Tensors() => new()
    {
        Tensor.FromArray(new sbyte[] { -128, 0, 127 }, 3),
        Tensor.FromArray(new short[] { short.MinValue, -1, short.MaxValue }, 3),
        Tensor.FromArray(new ushort[] { 0, 1, ushort.MaxValue }, 3),
        Tensor.FromArray(new uint[] { 0, 7, uint.MaxValue }, 3),
        Tensor.FromArray(new ulong[] { 0, (1UL << 60) + 1, ulong.MaxValue }, 3),
    };

    [Theory, MemberData(nameof(Tensors))]
    public void Raw_data_round_trips_exactly(Tensor t)
    {
        var proto = OnnxTensors.FromTensor(t, "x");
        Assert.Equal(t.DType.SizeOf() * 3, proto.RawData.Length);
        var back = OnnxTensors.ToTensor(proto, null);
        Assert.Equal(t.DType, back.DType);
        for (int i = 0; i < 3; i++) Assert.Equal(t.GetDouble(i), back.GetDouble(i));
        if (t.DType == DType.UInt64) Assert.Equal(t.ToArray<ulong>(), back.ToArray<ulong>());
    }

    [Fact]
    public void Narrow_integers_read_from_int32_data_and_uint32_from_uint64_data()
    {
        var i8 = new TensorProto { DataType = (int)TensorProto.Types.DataType.Int8, Dims = { 2 }, Int32Data = { -5, 100 } };
        Assert.Equal(new sbyte[] { -5, 100 }, OnnxTensors.ToTensor(i8, null).ToArray<sbyte>());
        var u16 = new TensorProto { DataType = (int)TensorProto.Types.DataType.Uint16, Dims = { 1 }, Int32Data = { 65535 } };
        Assert.Equal(new ushort[] { 65535 }, OnnxTensors.ToTensor(u16, null).ToArray<ushort>());
        var u32 = new TensorProto { DataType = (int)TensorProto.Types.DataType.Uint32, Dims = { 1 }, Uint64Data = { uint.MaxValue } };
        Assert.Equal(new uint[] { uint.MaxValue }, OnnxTensors.ToTensor(u32, null).ToArray<uint>());
        var u64 = new TensorProto { DataType = (int)TensorProto.Types.DataType.Uint64, Dims = { 1 }, Uint64Data = { ulong.MaxValue } };
        Assert.Equal(new[] { ulong.MaxValue }, OnnxTensors.ToTensor(u64, null).ToArray<ulong>());
    }

    [Fact]
    public void Unsupported_element_types_are_named()
    {
        var s = new TensorProto { DataType = (int)TensorProto.Types.DataType.Complex64, Dims = { 1 } };
        var e = Assert.Throws<OnnxUnsupportedException>(() => OnnxTensors.ToTensor(s, null, "tensor 'c'"));
        Assert.Contains("Complex64", e.Message);
        Assert.Contains("'c'", e.Message);
    }
}
