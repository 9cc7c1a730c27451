using System.Net;
using System.Text;
using Grpc.Core;
using Google.Protobuf;
using Tessera.Serving.Grpc.Inference;

namespace Tessera.Serving.Tests;

/// <summary>The bad-input matrix: each refusal is a 4xx naming the problem, and the server keeps serving every model.</summary>
public sealed class BadInputTests(SharedServer shared) : IClassFixture<SharedServer>
{
    private TestServer S => shared.Server;
    private static readonly string Ones = string.Join(",", Enumerable.Repeat(1, 16));

    private static string Request(string input0, string? input1 = null) =>
        $$"""{"inputs":[{{input0}},{{input1 ?? $$"""{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":[{{Ones}}]}"""}}]}""";

    public static TheoryData<string, string, string, int> JsonCases() => new()
    {
        { "malformed JSON", "simple", """{"inputs":[{"name":"INPUT0",""", 400 },
        { "not an object", "simple", "[1,2,3]", 400 },
        { "no inputs", "simple", """{"outputs":[]}""", 400 },
        { "wrong datatype", "simple", Request($$"""{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[{{Ones}}]}"""), 400 },
        { "unknown datatype", "simple", Request($$"""{"name":"INPUT0","datatype":"INT33","shape":[1,16],"data":[{{Ones}}]}"""), 400 },
        { "shape vs data length", "simple", Request("""{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[1,2,3]}"""), 400 },
        { "wrong shape", "simple", Request("""{"name":"INPUT0","datatype":"INT32","shape":[1,3],"data":[1,2,3]}"""), 400 },
        { "negative dimension", "simple", Request("""{"name":"INPUT0","datatype":"INT32","shape":[-1,16],"data":[1]}"""), 400 },
        { "string in INT32 data", "simple", Request($$"""{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":["x",{{Ones[2..]}}]}"""), 400 },
        { "INT8 out of range", "simple_int8", Request($$"""{"name":"INPUT0","datatype":"INT8","shape":[1,16],"data":[300,{{Ones[2..]}}]}""", $$"""{"name":"INPUT1","datatype":"INT8","shape":[1,16],"data":[{{Ones}}]}"""), 400 },
        { "missing input", "simple", $$"""{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[{{Ones}}]}]}""", 400 },
        { "unknown input", "simple", Request($$"""{"name":"INPUTX","datatype":"INT32","shape":[1,16],"data":[{{Ones}}]}"""), 400 },
        { "unknown output", "simple", Request($$"""{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[{{Ones}}]}""")[..^1] + ""","outputs":[{"name":"OUTPUT9"}]}""", 400 },
        { "batch over max_batch_size", "simple", $$"""{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[9,16],"data":[{{string.Join(",", Enumerable.Repeat(1, 144))}}]},{"name":"INPUT1","datatype":"INT32","shape":[9,16],"data":[{{string.Join(",", Enumerable.Repeat(1, 144))}}]}]}""", 400 },
        { "key given twice", "simple", Request($$"""{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[{{Ones}}],"data":[{{Ones}}]}"""), 400 },
        { "data before its shape, with too few elements", "simple", Request("""{"data":[1,2],"name":"INPUT0","datatype":"INT32","shape":[1,16]}"""), 400 },
        { "INT32 past its range", "simple", Request($$"""{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[2147483648,{{Ones[2..]}}]}"""), 400 },
        { "NaN as a string", "simple", Request($$"""{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":["NaN",{{Ones[2..]}}]}"""), 400 },
        { "body cut in a number", "simple", $$"""{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[{{Ones}}]},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":[1,1,12""", 400 },
        { "BYTES given a number", "simple_string", Request("""{"name":"INPUT0","datatype":"BYTES","shape":[1,1],"data":[1]}"""), 400 },
        { "unknown model", "nope", Request($$"""{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[{{Ones}}]}"""), 404 },
        { "model that failed to load", "broken", Request($$"""{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[{{Ones}}]}"""), 503 },
    };

    [Theory]
    [MemberData(nameof(JsonCases))]
    public async Task Bad_json_request_gets_4xx_error_and_server_keeps_serving(string problem, string model, string body, int status)
    {
        var (code, json) = await S.PostJsonAsync($"v2/models/{model}/infer", body);
        Assert.True((int)code == status, $"{problem}: expected {status}, got {(int)code} {json}");
        Assert.False(string.IsNullOrEmpty(json.GetProperty("error").GetString()), problem);
        await AssertStillServing();
    }

    [Fact]
    public async Task Error_messages_name_the_problem()
    {
        var (_, wrongType) = await S.PostJsonAsync("v2/models/simple/infer", Request($$"""{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[{{Ones}}]}"""));
        Assert.Contains("INPUT0", wrongType.GetProperty("error").GetString());
        Assert.Contains("INT32", wrongType.GetProperty("error").GetString());
        var (_, length) = await S.PostJsonAsync("v2/models/simple/infer", Request("""{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[1,2,3]}"""));
        Assert.Contains("16 elements", length.GetProperty("error").GetString());
        var (_, unknown) = await S.PostJsonAsync("v2/models/nope/infer", "{}");
        Assert.Contains("unknown model 'nope'", unknown.GetProperty("error").GetString());
        var (_, broken) = await S.PostJsonAsync("v2/models/broken/infer", Request($$"""{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[{{Ones}}]}"""));
        Assert.Contains("failed to load", broken.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("v2/models/simple/versions/9/infer", 404)]
    [InlineData("v2/models/simple/versions/abc/infer", 400)]
    [InlineData("v2/models/..%2F..%2Fetc/infer", 400)]
    [InlineData("v2/models/a%2Fb/infer", 400)]
    [InlineData("v2/models/..hidden/infer", 400)]
    [InlineData("v2/models/.%2E/infer", 400)]
    public async Task Bad_model_names_and_versions_are_refused(string path, int status)
    {
        using var response = await S.Http.PostAsync(path, new StringContent(Request($$"""{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[{{Ones}}]}"""), Encoding.UTF8, "application/json"));
        Assert.True((int)response.StatusCode == status || ((int)response.StatusCode is >= 400 and < 500 && status == 400),
            $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        await AssertStillServing();
    }

    [Theory]
    [InlineData("header length past the body", 100000, 64)]
    [InlineData("header length zero", 0, 64)]
    [InlineData("header length cuts the JSON", 20, 64)]
    [InlineData("binary_data_size past the body", -1, 32)]
    [InlineData("bytes left over", -1, 80)]
    public async Task Bad_binary_requests_get_400(string problem, int headerLength, int blobLength)
    {
        string header = """{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"parameters":{"binary_data_size":64}},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}""";
        var content = TestServer.Binary(header, new byte[blobLength]);
        if (headerLength >= 0)
        {
            content.Headers.Remove("Inference-Header-Content-Length");
            content.Headers.Add("Inference-Header-Content-Length", headerLength.ToString());
        }
        using var response = await S.Http.PostAsync("v2/models/simple/infer", content);
        var json = await TestServer.ReadJson(response);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{problem}: {(int)response.StatusCode} {json}");
        Assert.False(string.IsNullOrEmpty(json.GetProperty("error").GetString()));
        await AssertStillServing();
    }

    [Theory]
    [InlineData("length prefix past the end", new byte[] { 200, 0, 0, 0, 49 })]
    [InlineData("truncated length prefix", new byte[] { 1, 0 })]
    [InlineData("too few elements", new byte[] { 1, 0, 0, 0, 49 })]
    public async Task Bytes_elements_with_bad_lengths_get_400(string problem, byte[] blob)
    {
        string header = $$$"""{"inputs":[{"name":"INPUT0","datatype":"BYTES","shape":[1,16],"parameters":{"binary_data_size":{{{blob.Length}}}}},{"name":"INPUT1","datatype":"BYTES","shape":[1,16],"parameters":{"binary_data_size":{{{blob.Length}}}}}]}""";
        using var response = await S.Http.PostAsync("v2/models/simple_string/infer", TestServer.Binary(header, blob, blob));
        var json = await TestServer.ReadJson(response);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{problem}: {(int)response.StatusCode} {json}");
        Assert.Contains("BYTES", json.GetProperty("error").GetString()!, StringComparison.OrdinalIgnoreCase);
        await AssertStillServing();
    }

    [Fact]
    public async Task Body_over_the_size_limit_gets_413()
    {
        var big = new string(' ', (1 << 20) + 10);
        using var response = await S.Http.PostAsync("v2/models/simple/infer", new StringContent(big, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("limit", (await TestServer.ReadJson(response)).GetProperty("error").GetString());
        await AssertStillServing();
    }

    [Fact]
    public async Task Grpc_raw_contents_of_the_wrong_size_is_invalid_argument()
    {
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(S.Grpc);
        var request = GrpcProtocolTests.SimpleRaw("simple", new int[16], new int[16]);
        request.RawInputContents[0] = ByteString.CopyFrom(new byte[60]);
        var e = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(request).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("INPUT0", e.Status.Detail);
        Assert.Contains("64 bytes", e.Status.Detail);

        request = GrpcProtocolTests.SimpleRaw("simple", new int[16], new int[16]);
        request.RawInputContents.RemoveAt(1);
        e = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(request).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);

        e = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(GrpcProtocolTests.SimpleRaw("nope", new int[16], new int[16])).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);

        e = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(GrpcProtocolTests.SimpleRaw("../simple", new int[16], new int[16])).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);

        var contents = new ModelInferRequest { ModelName = "simple" };
        var input = new ModelInferRequest.Types.InferInputTensor { Name = "INPUT0", Datatype = "INT32", Shape = { 1, 16 }, Contents = new InferTensorContents() };
        input.Contents.IntContents.AddRange(new int[15]);
        contents.Inputs.Add(input);
        e = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(contents).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("int_contents", e.Status.Detail);
        await AssertStillServing();
    }

    [Fact]
    public async Task Grpc_message_over_the_size_limit_is_refused_and_the_server_keeps_serving()
    {
        await using var s = await TestServer.StartAsync(o => o.GrpcMaxMessageBytes = 64 << 10);
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(s.Grpc);
        var request = GrpcProtocolTests.SimpleRaw("simple", new int[16], new int[16]);
        request.RawInputContents[0] = ByteString.CopyFrom(new byte[100_000]);
        var e = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(request).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        var ok = await client.ModelInferAsync(GrpcProtocolTests.SimpleRaw("simple", [.. Enumerable.Range(0, 16)], new int[16]));
        Assert.Equal(15, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(ok.RawOutputContents[0].Span)[15]);
    }

    [Fact]
    public async Task Grpc_bad_names_unknown_versions_and_bad_bytes_lengths_are_refused()
    {
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(S.Grpc);
        var e = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(GrpcProtocolTests.SimpleRaw("a/b", new int[16], new int[16])).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("invalid model name", e.Status.Detail);
        e = await Assert.ThrowsAsync<RpcException>(() => client.ModelMetadataAsync(new ModelMetadataRequest { Name = "..%2Fsimple" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);

        var versioned = GrpcProtocolTests.SimpleRaw("simple", new int[16], new int[16]);
        versioned.ModelVersion = "9";
        e = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(versioned).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Contains("9", e.Status.Detail);

        // BYTES raw contents whose first length prefix (200) runs past its 5 bytes.
        var bytes = new ModelInferRequest { ModelName = "simple_string" };
        foreach (var name in new[] { "INPUT0", "INPUT1" })
        {
            bytes.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = name, Datatype = "BYTES", Shape = { 1, 16 } });
            bytes.RawInputContents.Add(ByteString.CopyFrom(200, 0, 0, 0, 49));
        }
        e = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(bytes).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("BYTES", e.Status.Detail, StringComparison.OrdinalIgnoreCase);
        await AssertStillServing();
    }

    [Theory]
    [InlineData("v2/repository/models/..%2F..%2Fetc/load")]
    [InlineData("v2/repository/models/a%2Fb/unload")]
    [InlineData("v2/repository/models/..hidden/load")]
    public async Task Repository_api_refuses_bad_model_names(string path)
    {
        var (code, json) = await S.PostJsonAsync(path, "{}");
        Assert.True(code == HttpStatusCode.BadRequest, $"{path}: {(int)code} {json}");
        Assert.Contains("invalid model name", json.GetProperty("error").GetString());
        await AssertStillServing();
    }

    [Fact]
    public void Json_fp32_data_is_sized_from_the_shape_and_out_of_range_numbers_are_refused()
    {
        static (float[] Values, long Count) Read(string json, long expected)
        {
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            var bytes = Tessera.Serving.Protocol.JsonTensorReader.Read(doc.RootElement, Tessera.Serving.Protocol.DataType.FP32, "x", out long count, expected);
            return (System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.Span).ToArray(), count);
        }
        var nested = Read("[[1.5, -2], [3, 4]]", 4);
        Assert.Equal(4, nested.Count);
        Assert.Equal([1.5f, -2f, 3f, 4f], nested.Values);
        var more = Read("[1, 2, 3]", 2); // more data than the shape says: all of it is counted (not stored), the caller refuses the count
        Assert.Equal(3, more.Count);
        Assert.Equal([1f, 2f], more.Values);
        var fewer = Read("[7]", 4);
        Assert.Equal(1, fewer.Count);
        Assert.Equal([7f], fewer.Values);
        Assert.Equal(0.1f, Read("[0.1]", 1).Values[0]); // parsed as float, not rounded twice through double
        var e = Assert.Throws<Tessera.Serving.Protocol.InferenceException>(() => Read("[1, 1e39]", 2));
        Assert.Equal(400, e.StatusCode);
        Assert.Contains("element 1", e.Message);
        Assert.Contains("FP32", e.Message);
    }

    private async Task AssertStillServing()
    {
        var a = string.Join(",", Enumerable.Range(0, 16));
        var (status, body) = await S.PostJsonAsync("v2/models/simple/infer",
            $$"""{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[{{a}}]},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":[{{a}}]}]}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(30, body.GetProperty("outputs")[0].GetProperty("data")[15].GetInt32());
        string s = string.Join(",", Enumerable.Range(0, 16).Select(i => $"\"{i}\""));
        var (strStatus, _) = await S.PostJsonAsync("v2/models/simple_string/infer",
            $$"""{"inputs":[{"name":"INPUT0","datatype":"BYTES","shape":[1,16],"data":[{{s}}]},{"name":"INPUT1","datatype":"BYTES","shape":[1,16],"data":[{{s}}]}]}""");
        Assert.Equal(HttpStatusCode.OK, strStatus);
    }
}
