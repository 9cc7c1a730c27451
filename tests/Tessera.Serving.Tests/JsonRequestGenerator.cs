using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Tessera.Serving.Protocol;

namespace Tessera.Serving.Tests;

/// <summary>
/// Random OIP JSON requests for the differential tests: every datatype, shapes of rank 0–3 (empty dims included),
/// flat, nested and irregularly nested data, keys in random order with unknown keys and whitespace between them,
/// escapes in names and strings, request and tensor parameters, outputs, and binary inputs mixed with JSON ones.
/// </summary>
internal sealed class JsonRequestGenerator(int seed)
{
    private readonly Random _rng = new(seed);

    /// <summary>One input as key → JSON text, so tests can drop or change a key before rendering.</summary>
    public sealed class Input
    {
        public required string Name;
        public required DataType Type;
        public required long[] Shape;
        public readonly List<(string Key, string Value)> Keys = [];
        public byte[]? Binary; // set when the input travels after the JSON header
    }

    public List<Input> Inputs(int max)
    {
        int n = 1 + _rng.Next(max);
        var inputs = new List<Input>();
        for (int i = 0; i < n; i++) inputs.Add(NewInput(i));
        return inputs;
    }

    private Input NewInput(int i)
    {
        var type = (DataType)_rng.Next(14);
        int rank = _rng.Next(4);
        long[] shape = [.. Enumerable.Range(0, rank).Select(_ => (long)(_rng.Next(8) == 0 ? 0 : 1 + _rng.Next(4)))];
        string name = _rng.Next(3) switch { 0 => $"in{i}", 1 => $"in\\u0070ut {i}", _ => $"é\\\"{i}" };
        var input = new Input { Name = name, Type = type, Shape = shape };
        input.Keys.Add(("name", $"\"{name}\""));
        input.Keys.Add(("datatype", $"\"{(_rng.Next(4) == 0 ? type.Name().ToLowerInvariant() : type.Name())}\""));
        input.Keys.Add(("shape", "[" + string.Join(",", shape) + "]"));
        long count = InferTensor.ElementCountOf(shape);
        var values = Enumerable.Range(0, (int)count).Select(_ => Value(type)).ToList();
        if (_rng.Next(5) == 0)
        {
            input.Binary = BinaryOf(type, values);
            input.Keys.Add(("parameters", $"{{\"binary_data_size\":{input.Binary.Length},\"other\":[1,{{\"x\":2}}]}}"));
        }
        else
        {
            input.Keys.Add(("data", Data(values, shape)));
            if (_rng.Next(3) == 0) input.Keys.Add(("parameters", "{\"note\":\"json\"}"));
        }
        if (_rng.Next(4) == 0) input.Keys.Add(("unknown", "{\"a\":[1,2,[3]],\"b\":null}"));
        Shuffle(input.Keys);
        return input;
    }

    /// <summary>The request's JSON, its binary part (empty unless an input is binary) and the header length.</summary>
    public (byte[] Body, long? HeaderLength) Render(List<Input> inputs)
    {
        var root = new List<(string, string)>();
        root.Add(("inputs", "[" + string.Join("," + Ws(), inputs.Select(i => Object(i.Keys))) + "]"));
        if (_rng.Next(2) == 0) root.Add(("id", _rng.Next(4) == 0 ? "42" : $"\"req-\\t{_rng.Next(100)}\""));
        if (_rng.Next(2) == 0) root.Add(("parameters", $"{{\"binary_data_output\":{Bool()},\"timeout\":{_rng.Next(-1, 5000)}}}"));
        if (_rng.Next(2) == 0)
            root.Add(("outputs", "[" + string.Join(",", Enumerable.Range(0, 1 + _rng.Next(3)).Select(k =>
                _rng.Next(2) == 0 ? $"{{\"name\":\"out{k}\"}}" : $"{{\"parameters\":{{\"binary_data\":{Bool()}}},\"name\":\"out{k}\"}}")) + "]"));
        Shuffle(root);
        byte[] json = Encoding.UTF8.GetBytes(Ws() + Object(root) + Ws());
        var binary = inputs.Where(i => i.Binary is not null).SelectMany(i => i.Binary!).ToArray();
        bool header = inputs.Any(i => i.Binary is not null) || _rng.Next(8) == 0;
        return ([.. json, .. binary], header ? json.Length : null);
    }

    private string Object(List<(string Key, string Value)> keys) =>
        "{" + Ws() + string.Join("," + Ws(), keys.Select(k => $"\"{k.Key}\"{Ws()}:{Ws()}{k.Value}")) + Ws() + "}";

    private string Ws() => _rng.Next(6) switch { 0 => " ", 1 => "\n\t ", _ => "" };

    private string Bool() => _rng.Next(2) == 0 ? "true" : "false";

    /// <summary>A random element of the type as JSON text, boundaries included.</summary>
    private string Value(DataType t)
    {
        var inv = CultureInfo.InvariantCulture;
        bool edge = _rng.Next(6) == 0;
        return t switch
        {
            DataType.Bool => Bool(),
            DataType.UInt8 => (edge ? byte.MaxValue : _rng.Next(256)).ToString(inv),
            DataType.Int8 => (edge ? sbyte.MinValue : _rng.Next(-128, 128)).ToString(inv),
            DataType.UInt16 => (edge ? ushort.MaxValue : _rng.Next(65536)).ToString(inv),
            DataType.Int16 => (edge ? short.MinValue : _rng.Next(-32768, 32768)).ToString(inv),
            DataType.UInt32 => (edge ? uint.MaxValue : (uint)_rng.NextInt64(0, 1L << 32)).ToString(inv),
            DataType.Int32 => (edge ? int.MinValue : _rng.Next(int.MinValue, int.MaxValue)).ToString(inv),
            DataType.UInt64 => (edge ? ulong.MaxValue : (ulong)_rng.NextInt64() * 2 + 1).ToString(inv),
            DataType.Int64 => (edge ? (_rng.Next(2) == 0 ? long.MinValue : long.MaxValue) : _rng.NextInt64(long.MinValue, long.MaxValue)).ToString(inv),
            DataType.FP16 => edge ? "65504" : ((double)(Half)((_rng.NextDouble() - 0.5) * 200)).ToString("R", inv),
            DataType.BF16 => edge ? "-0.0" : ((_rng.NextDouble() - 0.5) * 1e6).ToString("G6", inv),
            DataType.FP32 => edge ? "3.4028235E38" : _rng.Next(3) switch
            {
                0 => ((float)(_rng.NextDouble() * 2 - 1)).ToString("R", inv),
                1 => _rng.Next(-1000, 1000).ToString(inv),
                _ => ((_rng.NextDouble() - 0.5) * Math.Pow(10, _rng.Next(-40, 38))).ToString("E9", inv),
            },
            DataType.FP64 => edge ? "-1.7976931348623157E+308" : ((_rng.NextDouble() - 0.5) * Math.Pow(10, _rng.Next(-300, 300))).ToString("R", inv),
            _ => _rng.Next(4) switch
            {
                0 => "\"\"",
                1 => "\"plain text\"",
                2 => "\"esc \\\" \\\\ \\/ \\n \\u00e9 \\ud83d\\ude00 end\"",
                _ => "\"raw é 😀 ü\"",
            },
        };
    }

    /// <summary>The values flat, nested by the shape, or (as Triton also accepts) nested irregularly.</summary>
    private string Data(List<string> values, long[] shape)
    {
        if (shape.Length == 0 && values.Count == 1 && _rng.Next(2) == 0) return values[0]; // a bare scalar
        switch (_rng.Next(3))
        {
            case 0: return "[" + string.Join(",", values) + "]";
            case 1 when shape.Length > 1 && !shape.Contains(0):
                {
                    int k = 0;
                    string Nest(int d) => d == shape.Length - 1
                        ? "[" + string.Join(",", Enumerable.Range(0, (int)shape[d]).Select(_ => values[k++])) + "]"
                        : "[" + string.Join(",", Enumerable.Range(0, (int)shape[d]).Select(_ => Nest(d + 1))) + "]";
                    return Nest(0);
                }
            default:
                var sb = new StringBuilder("[");
                for (int i = 0; i < values.Count; i++)
                {
                    if (i > 0) sb.Append(',');
                    sb.Append(_rng.Next(4) == 0 ? $"[[{values[i]}]]" : values[i]);
                }
                return sb.Append(']').ToString();
        }
    }

    private byte[] BinaryOf(DataType t, List<string> values)
    {
        if (t != DataType.Bytes)
        {
            var bytes = new byte[values.Count * t.ElementSize()];
            _rng.NextBytes(bytes);
            return bytes;
        }
        var elements = values.Select(_ => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(new string('x', _rng.Next(5)))).ToList();
        return InferTensor.FromElements("b", [], elements).Data.ToArray();
    }

    private void Shuffle<T>(List<T> list)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = _rng.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }

    /// <summary>The body cut into segments of 1–<paramref name="maxSegment"/> bytes at random points.</summary>
    public ReadOnlySequence<byte> Split(byte[] body, int maxSegment)
    {
        var cuts = new List<int>();
        for (int i = 0; i < body.Length; i += 1 + _rng.Next(maxSegment)) cuts.Add(i);
        return Segments(body, cuts);
    }

    /// <summary>The body as segments starting at the given offsets (the first must be 0).</summary>
    public static ReadOnlySequence<byte> Segments(byte[] body, IReadOnlyList<int> starts)
    {
        if (body.Length == 0) return ReadOnlySequence<byte>.Empty;
        Segment? first = null, last = null;
        for (int k = 0; k < starts.Count; k++)
        {
            int end = k + 1 < starts.Count ? starts[k + 1] : body.Length;
            var s = new Segment(body.AsMemory(starts[k], end - starts[k]), starts[k]);
            if (last is null) first = s; else last.SetNext(s);
            last = s;
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long index) { Memory = memory; RunningIndex = index; }
        public void SetNext(Segment next) => Next = next;
    }
}
