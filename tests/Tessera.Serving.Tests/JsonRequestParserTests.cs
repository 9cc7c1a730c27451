using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Tessera.Serving.Protocol;

namespace Tessera.Serving.Tests;

/// <summary>
/// The streaming OIP JSON request parser: the same requests as the JsonDocument parser it replaced (kept in
/// <see cref="LegacyOipJson"/>), whole or split into segments anywhere, and the same refusals.
/// </summary>
public sealed class JsonRequestParserTests
{
    private static InferRequest Parse(string json) => OipJson.ParseRequest(Encoding.UTF8.GetBytes(json), null, "m", null);

    private static InferenceException Refused(string json) => Assert.Throws<InferenceException>(() => Parse(json));

    private static string Clip(byte[] body)
    {
        string s = Encoding.UTF8.GetString(body);
        return s.Length > 300 ? s[..300] + "..." : s;
    }

    private static void AssertSame(InferRequest expected, InferRequest actual, string context)
    {
        Assert.True(expected.Id == actual.Id, $"{context}: id {expected.Id} vs {actual.Id}");
        Assert.True(expected.BinaryOutputs == actual.BinaryOutputs, $"{context}: binary_data_output");
        Assert.True(expected.Timeout == actual.Timeout, $"{context}: timeout");
        Assert.True((expected.Outputs is null) == (actual.Outputs is null), $"{context}: outputs");
        if (expected.Outputs is not null) Assert.Equal(expected.Outputs, actual.Outputs!);
        Assert.True(expected.Inputs.Count == actual.Inputs.Count, $"{context}: input count");
        for (int i = 0; i < expected.Inputs.Count; i++)
        {
            var (e, a) = (expected.Inputs[i], actual.Inputs[i]);
            Assert.True(e.Name == a.Name && e.DataType == a.DataType && e.Shape.SequenceEqual(a.Shape), $"{context}: input {i} {e.Name} vs {a.Name}");
            Assert.True(e.Data.Span.SequenceEqual(a.Data.Span), $"{context}: input '{e.Name}' ({e.DataType.Name()}) data differs");
        }
    }

    [Fact]
    public void Random_requests_parse_as_the_jsondocument_parser_did_whole_and_in_segments()
    {
        var gen = new JsonRequestGenerator(1);
        for (int k = 0; k < 400; k++)
        {
            var (body, header) = gen.Render(gen.Inputs(4));
            string context = $"request {k}: {Clip(body)}";
            var expected = LegacyOipJson.ParseRequest(body, header, "m", null);
            AssertSame(expected, OipJson.ParseRequest(body, header, "m", null), context);
            using (var rented = new RentedBuffers())
                AssertSame(expected, OipJson.ParseRequest(gen.Split(body, k % 2 == 0 ? 3 : 64), header, "m", null, rented), context + " (segmented)");
        }
    }

    [Fact]
    public void Broken_random_requests_are_refused_by_both_parsers_naming_the_same_input()
    {
        var gen = new JsonRequestGenerator(2);
        var rng = new Random(3);
        int refused = 0;
        for (int k = 0; k < 400; k++)
        {
            var inputs = gen.Inputs(3);
            var victim = inputs[rng.Next(inputs.Count)];
            int mutation = rng.Next(7);
            int at = victim.Keys.FindIndex(kv => kv.Key == (mutation switch { 0 => "datatype", 1 or 2 => "shape", 3 => "name", _ => "data" }));
            switch (mutation)
            {
                case 0: victim.Keys[at] = ("datatype", "\"FP33\""); break;
                case 1: victim.Keys[at] = ("shape", "[" + string.Join(",", victim.Shape.Append(victim.Shape.Length == 0 ? 2 : 3)) + "]"); break;
                case 2: victim.Keys[at] = ("shape", "[" + string.Join(",", victim.Shape.Prepend(-1)) + "]"); break;
                case 3: victim.Keys.RemoveAt(at); break;
                case 4 when at >= 0: victim.Keys[at] = ("data", OutOfRange(victim)); break;
                case 5 when at >= 0: victim.Keys[at] = ("data", victim.Type == DataType.Bytes ? "[1]" : "[\"1\"]"); break;
                default: victim.Keys.RemoveAll(kv => kv.Key is "data" or "parameters"); break;
            }
            var (body, header) = gen.Render(inputs);
            if (mutation == 6 && rng.Next(2) == 0) // or cut the JSON short anywhere
                (body, header) = (body[..rng.Next((int)(header ?? body.Length))], null);
            string context = $"request {k}, mutation {mutation}: {Clip(body)}";
            InferenceException? old = null;
            try { LegacyOipJson.ParseRequest(body, header, "m", null); }
            catch (InferenceException e) { old = e; }
            if (old is null) continue; // e.g. a shape made larger where its dimension was 0
            refused++;
            var now = Assert.Throws<InferenceException>(() => OipJson.ParseRequest(gen.Split(body, 16), header, "m", null));
            Assert.True(now.StatusCode == 400, context);
            string quoted = $"'{victim.Name.Replace("\\u0070", "p").Replace("\\\"", "\"")}'";
            if (old.Message.Contains(quoted) && mutation != 6)
                Assert.True(now.Message.Contains(quoted), $"{context}\nold: {old.Message}\nnew: {now.Message}");
        }
        Assert.True(refused > 300, $"only {refused} of the broken requests were refused by the old parser");
    }

    private static string OutOfRange(JsonRequestGenerator.Input i) => "[" + (i.Type switch
    {
        DataType.Bool => "1",
        DataType.UInt8 => "256",
        DataType.Int8 => "-129",
        DataType.UInt16 => "65536",
        DataType.Int16 => "32768",
        DataType.UInt32 => "-1",
        DataType.Int32 => "2147483648",
        DataType.UInt64 => "18446744073709551616",
        DataType.Int64 => "-9223372036854775809",
        DataType.FP32 => "1e39",
        DataType.Bytes => "true",
        _ => "null",
    }) + "]";

    [Fact]
    public void A_body_split_at_every_byte_parses_the_same()
    {
        // Numbers, escapes (including a surrogate pair) and a big integer, so the splits fall inside each of them.
        string json = """{"id":"r\u00e9q","inputs":[{"name":"t\"x","datatype":"BYTES","shape":[2],"data":["a\\b\n\ud83d\ude00","é"]},""" +
            """{"name":"f","datatype":"FP32","shape":[3],"data":[-1.25e-3,3.4028235E38,0.1]},{"name":"u","datatype":"UINT64","shape":[1],"data":[18446744073709551615]}]}""";
        byte[] body = Encoding.UTF8.GetBytes(json);
        var expected = LegacyOipJson.ParseRequest(body, null, "m", null);
        Assert.Equal("réq", expected.Id);
        for (int a = 1; a < body.Length; a++)
        {
            AssertSame(expected, OipJson.ParseRequest(JsonRequestGenerator.Segments(body, [0, a]), null, "m", null), $"split at {a}");
            if (a + 1 < body.Length)
                AssertSame(expected, OipJson.ParseRequest(JsonRequestGenerator.Segments(body, [0, a, a + 1]), null, "m", null), $"one-byte segment at {a}");
        }
    }

    [Fact]
    public void Binary_tensor_split_across_segments_is_copied_whole()
    {
        string header = """{"inputs":[{"name":"x","datatype":"INT32","shape":[4],"parameters":{"binary_data_size":16}},{"name":"y","datatype":"INT32","shape":[1],"data":[5]}]}""";
        int[] values = [1, -2, 3, int.MaxValue];
        byte[] body = [.. Encoding.UTF8.GetBytes(header), .. MemoryMarshal.AsBytes(values.AsSpan())];
        var r = OipJson.ParseRequest(JsonRequestGenerator.Segments(body, [0, header.Length + 5, header.Length + 9]), header.Length, "m", null);
        Assert.Equal(values, r.Inputs[0].AsSpan<int>().ToArray());
        Assert.Equal([5], r.Inputs[1].AsSpan<int>().ToArray());
    }

    [Fact]
    public void Keys_in_any_order_give_the_same_tensor()
    {
        var usual = Parse("""{"inputs":[{"name":"x","datatype":"INT16","shape":[2,2],"data":[[1,-2],[3,4]]}]}""").Inputs[0];
        var reversed = Parse("""{"outputs":[{"name":"o"}],"inputs":[{"data":[[1,-2],[3,4]],"shape":[2,2],"datatype":"INT16","name":"x"}],"id":"z"}""").Inputs[0];
        Assert.Equal([1, -2, 3, 4], usual.AsSpan<short>().ToArray());
        Assert.Equal(usual.Data.ToArray(), reversed.Data.ToArray());
        Assert.Equal(usual.Shape, reversed.Shape);
        // An error in data that came first still names the tensor (it is decoded once the name is known).
        Assert.Contains("input 'x' element 1", Refused("""{"inputs":[{"data":[1,"2"],"datatype":"INT16","shape":[2],"name":"x"}]}""").Message);
    }

    [Fact]
    public void Integers_keep_every_bit_and_out_of_range_ones_are_refused()
    {
        var r = Parse("""{"inputs":[{"name":"a","datatype":"INT64","shape":[3],"data":[-9223372036854775808,9223372036854775807,9007199254740993]},""" +
            """{"name":"b","datatype":"UINT64","shape":[2],"data":[18446744073709551615,9007199254740993]}]}""");
        Assert.Equal([long.MinValue, long.MaxValue, 9007199254740993L], r.Inputs[0].AsSpan<long>().ToArray()); // 2^53 + 1: not a double
        Assert.Equal([ulong.MaxValue, 9007199254740993UL], r.Inputs[1].AsSpan<ulong>().ToArray());
        foreach (var (type, value) in new[] { ("INT64", "9223372036854775808"), ("UINT64", "-1"), ("UINT64", "18446744073709551616"), ("INT32", "1.0"), ("INT8", "1e2"), ("UINT8", "256"), ("BOOL", "1") })
        {
            var e = Refused($$"""{"inputs":[{"name":"n","datatype":"{{type}}","shape":[2],"data":[{{(type == "BOOL" ? "true" : "0")}},{{value}}]}]}""");
            Assert.Contains("input 'n' element 1", e.Message);
            Assert.Contains(type, e.Message);
            Assert.Contains(value, e.Message);
        }
    }

    [Fact]
    public void Floats_nan_and_infinity_are_not_json_numbers_and_overflow_is_refused()
    {
        var r = Parse("""{"inputs":[{"name":"h","datatype":"FP16","shape":[4],"data":[1.5,-0.25,65504,6e-8]},{"name":"b","datatype":"BF16","shape":[2],"data":[1.5,-3]},""" +
            """{"name":"d","datatype":"FP64","shape":[2],"data":[0.1,-1.7976931348623157e308]}]}""");
        Assert.Equal([(Half)1.5, (Half)(-0.25), (Half)65504, (Half)6e-8], r.Inputs[0].AsSpan<Half>().ToArray());
        Assert.Equal([Tessera.Serving.Protocol.BFloat16.FromSingle(1.5f), Tessera.Serving.Protocol.BFloat16.FromSingle(-3f)], r.Inputs[1].AsSpan<ushort>().ToArray());
        Assert.Equal([0.1, -double.MaxValue], r.Inputs[2].AsSpan<double>().ToArray());
        // The response writer sends NaN and infinities as strings; as input they are strings, not numbers: refused.
        Assert.Contains("got string \"NaN\"", Refused("""{"inputs":[{"name":"f","datatype":"FP32","shape":[1],"data":["NaN"]}]}""").Message);
        Assert.Contains("malformed JSON", Refused("""{"inputs":[{"name":"f","datatype":"FP32","shape":[1],"data":[NaN]}]}""").Message);
        Assert.Contains("malformed JSON", Refused("""{"inputs":[{"name":"f","datatype":"FP32","shape":[1],"data":[Infinity]}]}""").Message);
        // Numbers past the datatype's range would become infinities.
        foreach (var (type, value) in new[] { ("FP32", "1e39"), ("FP16", "65520"), ("BF16", "3.4e38"), ("FP64", "1e309") })
            Assert.Contains("element 0: expected a number", Refused($$"""{"inputs":[{"name":"f","datatype":"{{type}}","shape":[1],"data":[{{value}}]}]}""").Message);
    }

    [Fact]
    public void Fast_decimal_path_agrees_bit_for_bit_with_the_readers_parser()
    {
        var rng = new Random(5);
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        int fast = 0;
        for (int k = 0; k < 200_000; k++)
        {
            string t = rng.Next(5) switch
            {
                0 => ((float)rng.NextDouble()).ToString("R", inv),
                1 => (rng.NextDouble() * Math.Pow(10, rng.Next(-25, 25))).ToString("G" + rng.Next(1, 18), inv),
                2 => rng.NextInt64(1, 1L << 54) + "e" + rng.Next(-30, 30),
                3 => "-" + rng.Next(0, 99999999) + "." + rng.Next(0, 999999).ToString("D6", inv) + "E+" + rng.Next(0, 5),
                _ => rng.Next(2) == 0 ? "-0" : "0.0",
            };
            byte[] utf8 = Encoding.UTF8.GetBytes(t);
            var r = new Utf8JsonReader(utf8);
            r.Read();
            Assert.True(r.TryGetSingle(out float single), t);
            Assert.True(r.TryGetDouble(out double dbl), t);
            if (FastDecimal.TryParseSingle(utf8, out float f))
            {
                fast++;
                Assert.True(BitConverter.SingleToInt32Bits(single) == BitConverter.SingleToInt32Bits(f), $"{t}: {single:R} vs {f:R}");
            }
            if (FastDecimal.TryParseDouble(utf8, out double d))
                Assert.True(BitConverter.DoubleToInt64Bits(dbl) == BitConverter.DoubleToInt64Bits(d), $"{t}: {dbl:R} vs {d:R}");
        }
        Assert.True(fast > 100_000, $"only {fast} took the fast path");
        // Just above the midpoint between 1 and the next float: its nearest double is the midpoint itself, where
        // rounding again to float would tie to even (1.0) and lose the side; it must take the slow path.
        Assert.False(FastDecimal.TryParseSingle("1.00000005960464478"u8, out _));
        Assert.Equal(BitConverter.Int32BitsToSingle(0x3F800001),
            Parse("""{"inputs":[{"name":"f","datatype":"FP32","shape":[1],"data":[1.00000005960464478]}]}""").Inputs[0].AsSpan<float>()[0]);
    }

    [Fact]
    public void Nesting_is_flattened_and_only_the_element_count_must_match()
    {
        // As Triton: [[1],[2,[3,4]]] is four elements in row-major order, whatever the shape's rank.
        Assert.Equal([1, 2, 3, 4], Parse("""{"inputs":[{"name":"x","datatype":"INT32","shape":[2,2],"data":[[1],[2,[3,4]]]}]}""").Inputs[0].AsSpan<int>().ToArray());
        Assert.Equal([7], Parse("""{"inputs":[{"name":"x","datatype":"INT32","shape":[],"data":7}]}""").Inputs[0].AsSpan<int>().ToArray());
        var e = Refused("""{"inputs":[{"name":"x","datatype":"INT32","shape":[2,2],"data":[[1,2],[3]]}]}""");
        Assert.Contains("input 'x' has shape [2,2] (4 elements) but its data holds 3", e.Message);
        Assert.Contains("holds 5", Refused("""{"inputs":[{"name":"x","datatype":"INT32","shape":[2,2],"data":[[1,2],[3,4,5]]}]}""").Message);
        Assert.Contains("got object", Refused("""{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[{"v":1}]}]}""").Message);
        string deep = new string('[', 70) + "1" + new string(']', 70);
        Assert.Contains("malformed JSON", Refused($$"""{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":{{deep}}}]}""").Message);
    }

    [Fact]
    public void A_claimed_shape_larger_than_the_body_allocates_nothing_for_it()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Refused("""{"inputs":[{"name":"x","datatype":"FP64","shape":[100000,100000],"data":[1,2,3]}]}""");
        Assert.Contains("(10000000000 elements) but its data holds 3", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Theory]
    [InlineData("""{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[1]}],"inputs":[]}""", "the request has 'inputs' twice")]
    [InlineData("""{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[1],"data":[2]}]}""", "input 0 has 'data' twice")]
    [InlineData("""{"inputs":[{"datatype":"INT32","shape":[1],"data":[1]}]}""", "input 0 has no 'name'")]
    [InlineData("""{"inputs":[{"name":"x","shape":[1],"data":[1]}]}""", "input 'x' has no 'datatype'")]
    [InlineData("""{"inputs":[{"name":"x","datatype":"INT33","shape":[1],"data":[1]}]}""", "tensor 'x' has unknown datatype 'INT33'")]
    [InlineData("""{"inputs":[{"name":"x","datatype":"INT32","data":[1]}]}""", "input 'x' has no 'shape' array")]
    [InlineData("""{"inputs":[{"name":"x","datatype":"INT32","shape":[1,"2"],"data":[1]}]}""", "input 'x' shape must hold non-negative integers, got string \"2\"")]
    [InlineData("""{"inputs":[{"name":"x","datatype":"INT32","shape":[1]}]}""", "input 'x' has neither 'data' nor a binary_data_size parameter")]
    [InlineData("""{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"parameters":{"binary_data_size":4}}]}""", "input 'x' has binary_data_size but the request has no Inference-Header-Content-Length header")]
    [InlineData("""{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"parameters":{"binary_data_size":-4}}]}""", "input 'x': binary_data_size must be a non-negative integer")]
    [InlineData("""{"inputs":{}}""", "the request has no 'inputs' array")]
    [InlineData("""{"inputs":[1]}""", "each entry of 'inputs' must be an object")]
    [InlineData("""{"inputs":[],"outputs":[{"parameters":{}}]}""", "each entry of 'outputs' needs a 'name'")]
    [InlineData("""[]""", "the request must be a JSON object")]
    [InlineData("", "malformed JSON")]
    [InlineData("""{"inputs":[]} x""", "malformed JSON")]
    [InlineData("""{"inputs":[],}""", "malformed JSON")]
    [InlineData("""{"inputs":[{"name":"x","datatype":"BYTES","shape":[1],"data":["\ud800"]}]}""", "input 'x' element 0")]
    public void Refusals_name_the_problem(string json, string message) => Assert.Contains(message, Refused(json).Message);

    [Fact]
    public void Request_parameters_and_outputs_resolve_whatever_their_order()
    {
        var r = Parse("""{"outputs":[{"name":"a"},{"name":"b","parameters":{"binary_data":false}},{"name":"c","parameters":{"binary_data":true}}],"inputs":[],""" +
            """ "parameters":{"timeout":1500,"binary_data_output":true,"other":{"x":[1]}},"id":"q"}""");
        Assert.Equal(TimeSpan.FromMicroseconds(1500), r.Timeout);
        Assert.True(r.BinaryOutputs);
        // "a" takes the request's binary_data_output although it came later in the body.
        Assert.Equal([new RequestedOutput("a", true), new RequestedOutput("b", false), new RequestedOutput("c", true)], r.Outputs!);
        Assert.Equal("q", r.Id);
        Assert.Null(Parse("""{"inputs":[],"parameters":{"timeout":9223372036854775807}}""").Timeout); // no limit rather than a 500
        Assert.Null(Parse("""{"inputs":[],"id":7}""").Id);
    }

    [Fact]
    public void Decoded_tensors_live_in_the_rented_arrays()
    {
        byte[] body = Encoding.UTF8.GetBytes("""{"inputs":[{"name":"x","datatype":"FP32","shape":[3],"data":[1,2,3]}]}""");
        using var rented = new RentedBuffers();
        var r = OipJson.ParseRequest(body, null, "m", null, rented);
        Assert.True(MemoryMarshal.TryGetArray(r.Inputs[0].Data, out var segment));
        Assert.True(segment.Array!.Length >= 12 && segment.Count == 12);
        Assert.Equal([1f, 2f, 3f], r.Inputs[0].AsSpan<float>().ToArray());
    }

    [Fact]
    public void Response_writer_round_trips_every_datatype_and_allocates_nothing_per_element()
    {
        var outputs = new List<InferTensor>
        {
            InferTensor.FromArray("b", DataType.Bool, [2], new byte[] { 1, 0 }),
            InferTensor.FromArray("i8", DataType.Int8, [2], new sbyte[] { -128, 127 }),
            InferTensor.FromArray("u64", DataType.UInt64, [1], new[] { ulong.MaxValue }),
            InferTensor.FromArray("i64", DataType.Int64, [1], new[] { long.MinValue }),
            InferTensor.FromArray("h", DataType.FP16, [2], new[] { (Half)1.5, Half.PositiveInfinity }),
            InferTensor.FromArray("f", DataType.FP32, [3], new[] { 0.1f, float.NaN, float.NegativeInfinity }),
            InferTensor.FromArray("d", DataType.FP64, [1], new[] { 0.1 }),
            InferTensor.FromStrings("s", [2], ["é\"", "x"]),
            InferTensor.FromElements("raw", [1], [new byte[] { 0xff, 0x41 }]),
        };
        var json = Write(outputs).RootElement.GetProperty("outputs");
        string Data(int i) => json[i].GetProperty("data").GetRawText();
        Assert.Equal("[true,false]", Data(0));
        Assert.Equal("[-128,127]", Data(1));
        Assert.Equal("[18446744073709551615]", Data(2));
        Assert.Equal("[-9223372036854775808]", Data(3));
        Assert.Equal("""[1.5,"Infinity"]""", Data(4));
        Assert.Equal("""[0.1,"NaN","-Infinity"]""", Data(5));
        Assert.Equal("[0.1]", Data(6));
        Assert.Equal(new[] { "é\"", "x" }, json[7].GetProperty("data").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("\uFFFDA", json[8].GetProperty("data")[0].GetString()); // not UTF-8: replaced, as before

        static long Allocated(int n)
        {
            var t = InferTensor.FromArray("f", DataType.FP32, [n], Enumerable.Range(0, n).Select(i => i * 0.37f).ToArray());
            var buffer = new ArrayBufferWriter<byte>(n * 16 + 1024);
            WriteOnly([t], buffer);
            long before = GC.GetAllocatedBytesForCurrentThread();
            WriteOnly([t], buffer);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Allocated(1000);
        Assert.True(Allocated(100_000) < Allocated(1000) + 4096, $"{Allocated(100_000)} bytes for 100 000 floats vs {Allocated(1000)} for 1000");
    }

    private static JsonDocument Write(List<InferTensor> outputs)
    {
        var buffer = new ArrayBufferWriter<byte>();
        WriteOnly(outputs, buffer);
        return JsonDocument.Parse(buffer.WrittenMemory);
    }

    private static void WriteOnly(List<InferTensor> outputs, ArrayBufferWriter<byte> buffer)
    {
        buffer.ResetWrittenCount();
        var request = new InferRequest { ModelName = "m", Inputs = [] };
        OipJson.WriteResponse(new InferResponse { ModelName = "m", ModelVersion = "1", Outputs = outputs }, request, buffer);
    }
}
