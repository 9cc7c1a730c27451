using System.Buffers.Binary;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Tessera.Serving.Tests;

/// <summary>Every REST endpoint of the Open Inference Protocol, in JSON and binary form, on Triton's example models.</summary>
public sealed class RestProtocolTests(SharedServer shared) : IClassFixture<SharedServer>
{
    private TestServer S => shared.Server;
    private static readonly int[] A = [.. Enumerable.Range(0, 16)];
    private static readonly int[] B = [.. Enumerable.Repeat(1, 16)];

    [Fact]
    public async Task Health_live_and_ready_return_200()
    {
        var (live, body) = await S.GetJsonAsync("v2/health/live");
        Assert.Equal(HttpStatusCode.OK, live);
        Assert.True(body.GetProperty("live").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, (await S.GetJsonAsync("v2/health/ready")).Status);
    }

    [Fact]
    public async Task Server_metadata_names_server_and_extensions()
    {
        var (status, body) = await S.GetJsonAsync("v2");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("tessera", body.GetProperty("name").GetString());
        var ext = body.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains("binary_tensor_data", ext);
        Assert.Contains("model_repository", ext);
    }

    [Fact]
    public async Task Model_metadata_reports_config_tensors_with_batch_dimension()
    {
        foreach (var path in new[] { "v2/models/simple", "v2/models/simple/versions/1" })
        {
            var (status, body) = await S.GetJsonAsync(path);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("simple", body.GetProperty("name").GetString());
            Assert.Equal(["1"], body.GetProperty("versions").EnumerateArray().Select(v => v.GetString()));
            Assert.Equal("onnxruntime_onnx", body.GetProperty("platform").GetString());
            var input = body.GetProperty("inputs")[0];
            Assert.Equal("INPUT0", input.GetProperty("name").GetString());
            Assert.Equal("INT32", input.GetProperty("datatype").GetString());
            Assert.Equal([-1L, 16L], input.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
            Assert.Equal(["OUTPUT0", "OUTPUT1"], body.GetProperty("outputs").EnumerateArray().Select(o => o.GetProperty("name").GetString()));
        }
    }

    [Fact]
    public async Task Model_ready_is_true_for_servable_models_and_404_for_unknown()
    {
        Assert.Equal(HttpStatusCode.OK, (await S.GetJsonAsync("v2/models/simple/ready")).Status);
        Assert.Equal(HttpStatusCode.OK, (await S.GetJsonAsync("v2/models/simple/versions/1/ready")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await S.GetJsonAsync("v2/models/nope/ready")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await S.GetJsonAsync("v2/models/simple/versions/7/ready")).Status);
    }

    [Fact]
    public async Task Simple_adds_and_subtracts_like_triton_in_json()
    {
        var (status, body) = await S.PostJsonAsync("v2/models/simple/infer", TestServer.SimpleRequest(A, B));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("simple", body.GetProperty("model_name").GetString());
        Assert.Equal("1", body.GetProperty("model_version").GetString());
        var outputs = body.GetProperty("outputs").EnumerateArray().ToDictionary(o => o.GetProperty("name").GetString()!);
        Assert.Equal(A.Select((a, i) => a + B[i]), outputs["OUTPUT0"].GetProperty("data").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(A.Select((a, i) => a - B[i]), outputs["OUTPUT1"].GetProperty("data").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal("INT32", outputs["OUTPUT0"].GetProperty("datatype").GetString());
        Assert.Equal([1L, 16L], outputs["OUTPUT0"].GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
    }

    [Fact]
    public async Task Nested_data_with_id_and_requested_output_and_version()
    {
        string nested = $"[[{string.Join(",", A)}]]";
        string json = $$"""{"id":"req-7","inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":{{nested}}},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":{{nested}}}],"outputs":[{"name":"OUTPUT1"}]}""";
        var (status, body) = await S.PostJsonAsync("v2/models/simple/versions/1/infer", json);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("req-7", body.GetProperty("id").GetString());
        var outputs = body.GetProperty("outputs");
        Assert.Equal(1, outputs.GetArrayLength());
        Assert.Equal("OUTPUT1", outputs[0].GetProperty("name").GetString());
        Assert.All(outputs[0].GetProperty("data").EnumerateArray(), e => Assert.Equal(0, e.GetInt32()));
    }

    [Fact]
    public async Task Batch_of_three_rows_in_one_request()
    {
        var a = Enumerable.Range(0, 48).ToArray();
        string json = $$"""{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[3,16],"data":[{{string.Join(",", a)}}]},{"name":"INPUT1","datatype":"INT32","shape":[3,16],"data":[{{string.Join(",", a)}}]}]}""";
        var (status, body) = await S.PostJsonAsync("v2/models/simple/infer", json);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(a.Select(x => 2 * x), body.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public async Task Simple_string_adds_numbers_written_as_strings()
    {
        string data = string.Join(",", A.Select(x => $"\"{x}\""));
        string ones = string.Join(",", B.Select(x => $"\"{x}\""));
        string json = $$"""{"inputs":[{"name":"INPUT0","datatype":"BYTES","shape":[1,16],"data":[{{data}}]},{"name":"INPUT1","datatype":"BYTES","shape":[1,16],"data":[{{ones}}]}]}""";
        var (status, body) = await S.PostJsonAsync("v2/models/simple_string/infer", json);
        Assert.Equal(HttpStatusCode.OK, status);
        var outputs = body.GetProperty("outputs").EnumerateArray().ToDictionary(o => o.GetProperty("name").GetString()!);
        Assert.Equal("BYTES", outputs["OUTPUT0"].GetProperty("datatype").GetString());
        Assert.Equal(A.Select(x => (x + 1).ToString()), outputs["OUTPUT0"].GetProperty("data").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(A.Select(x => (x - 1).ToString()), outputs["OUTPUT1"].GetProperty("data").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Simple_int8_wraps_like_int8()
    {
        var a = Enumerable.Range(0, 16).Select(i => i * 8 - 60).ToArray();
        var (status, body) = await S.PostJsonAsync("v2/models/simple_int8/infer", TestServer.SimpleRequest(a, a, "INT8"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(a.Select(x => (int)(sbyte)(2 * x)), body.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public async Task Binary_inputs_and_binary_outputs_round_trip()
    {
        byte[] a = new byte[64], b = new byte[64];
        for (int i = 0; i < 16; i++) { BinaryPrimitives.WriteInt32LittleEndian(a.AsSpan(i * 4), i * 3); BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(i * 4), 2); }
        string header = """{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"parameters":{"binary_data_size":64}},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"parameters":{"binary_data_size":64}}],"outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}},{"name":"OUTPUT1","parameters":{"binary_data":false}}]}""";
        using var response = await S.Http.PostAsync("v2/models/simple/infer", TestServer.Binary(header, a, b));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        int headerLength = int.Parse(response.Headers.GetValues("Inference-Header-Content-Length").Single());
        var bytes = await response.Content.ReadAsByteArrayAsync();
        using var doc = JsonDocument.Parse(bytes.AsMemory(0, headerLength));
        var outputs = doc.RootElement.GetProperty("outputs");
        Assert.Equal(64, outputs[0].GetProperty("parameters").GetProperty("binary_data_size").GetInt32());
        Assert.False(outputs[0].TryGetProperty("data", out _));
        Assert.Equal(Enumerable.Range(0, 16).Select(i => i * 3 - 2), outputs[1].GetProperty("data").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(headerLength + 64, bytes.Length);
        for (int i = 0; i < 16; i++) Assert.Equal(i * 3 + 2, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(headerLength + i * 4)));
    }

    [Fact]
    public async Task Binary_data_output_parameter_makes_every_output_binary_including_bytes()
    {
        var strings = A.Select(x => Encoding.UTF8.GetBytes(x.ToString())).ToArray();
        byte[] blob = [.. strings.SelectMany(s => BitConverter.GetBytes(s.Length).Concat(s))];
        string header = $$$"""{"parameters":{"binary_data_output":true},"inputs":[{"name":"INPUT0","datatype":"BYTES","shape":[1,16],"parameters":{"binary_data_size":{{{blob.Length}}}}},{"name":"INPUT1","datatype":"BYTES","shape":[1,16],"parameters":{"binary_data_size":{{{blob.Length}}}}}]}""";
        using var response = await S.Http.PostAsync("v2/models/simple_string/infer", TestServer.Binary(header, blob, blob));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        int headerLength = int.Parse(response.Headers.GetValues("Inference-Header-Content-Length").Single());
        var bytes = await response.Content.ReadAsByteArrayAsync();
        using var doc = JsonDocument.Parse(bytes.AsMemory(0, headerLength));
        int size0 = doc.RootElement.GetProperty("outputs")[0].GetProperty("parameters").GetProperty("binary_data_size").GetInt32();
        var first = new Protocol.InferTensor("OUTPUT0", Protocol.DataType.Bytes, [1, 16], bytes.AsMemory(headerLength, size0));
        first.Validate();
        Assert.Equal(A.Select(x => (2 * x).ToString()), first.GetStrings());
    }

    [Fact]
    public async Task Plain_infer_endpoint_takes_named_arrays()
    {
        string json = $$$"""{"model":"simple","inputs":{"INPUT0":[{{{string.Join(",", A)}}}],"INPUT1":[{{{string.Join(",", B)}}}]}}""";
        var (status, body) = await S.PostJsonAsync("infer", json);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(A.Select(x => x + 1), body.GetProperty("outputs").GetProperty("OUTPUT0").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public async Task Config_json_model_serves_all_versions_on_onnxruntime()
    {
        var (status, body) = await S.GetJsonAsync("v2/models/simple_json");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["1", "2"], body.GetProperty("versions").EnumerateArray().Select(v => v.GetString()));
        var (s2, r2) = await S.PostJsonAsync("v2/models/simple_json/versions/1/infer", TestServer.SimpleRequest(A, B));
        Assert.Equal(HttpStatusCode.OK, s2);
        Assert.Equal("1", r2.GetProperty("model_version").GetString());
        var (s3, r3) = await S.PostJsonAsync("v2/models/simple_json/infer", TestServer.SimpleRequest(A, B));
        Assert.Equal(HttpStatusCode.OK, s3);
        Assert.Equal("2", r3.GetProperty("model_version").GetString());
        var row = S.Cache.Index().First(r => r.Name == "simple_json" && r.State == "READY");
        Assert.Equal("onnxruntime", row.Engine);
    }

    [Fact]
    public async Task Repository_index_lists_states_and_the_failed_models_reason()
    {
        await S.PostJsonAsync("v2/models/broken/infer", TestServer.SimpleRequest(A, B));
        var (status, body) = await S.PostJsonAsync("v2/repository/index", "{}");
        Assert.Equal(HttpStatusCode.OK, status);
        var rows = body.EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString() + "/" + r.GetProperty("version").GetString());
        Assert.Contains("simple/1", rows.Keys);
        Assert.Contains("simple_string/1", rows.Keys);
        Assert.Equal("UNAVAILABLE", rows["broken/1"].GetProperty("state").GetString());
        Assert.Contains("load", rows["broken/1"].GetProperty("reason").GetString()!, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Repository_unload_then_load()
    {
        const string json = """{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}""";
        Assert.Equal(HttpStatusCode.OK, (await S.PostJsonAsync("v2/repository/models/simple_int8/load", "{}")).Status);
        var ready = await S.PostJsonAsync("v2/repository/index", """{"ready":true}""");
        Assert.Contains(ready.Body.EnumerateArray(), r => r.GetProperty("name").GetString() == "simple_int8");
        Assert.Equal(HttpStatusCode.OK, (await S.PostJsonAsync("v2/repository/models/simple_int8/unload", "{}")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await S.GetJsonAsync("v2/models/simple_int8/ready")).Status);
        var refused = await S.PostJsonAsync("v2/models/simple_int8/infer", json.Replace("INT32", "INT8"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        Assert.Contains("unloaded", refused.Body.GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.OK, (await S.PostJsonAsync("v2/repository/models/simple_int8/load", "{}")).Status);
        Assert.Equal(HttpStatusCode.OK, (await S.PostJsonAsync("v2/models/simple_int8/infer", json.Replace("INT32", "INT8"))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await S.PostJsonAsync("v2/repository/models/nope/load", "{}")).Status);
    }

    [Fact]
    public async Task Metrics_endpoint_exports_request_counts_and_latency_histograms()
    {
        await S.PostJsonAsync("v2/models/simple/infer", TestServer.SimpleRequest(A, B));
        var text = await S.Http.GetStringAsync("metrics");
        Assert.Contains("tessera_inference_requests_total{model=\"simple\",version=\"1\",outcome=\"success\"}", text);
        Assert.Contains("tessera_inference_compute_seconds_bucket", text);
        Assert.Contains("tessera_inference_queue_seconds_bucket", text);
        Assert.Contains("tessera_cache_hits_total", text);
        Assert.Contains("tessera_models_memory_bytes", text);
    }

    [Fact]
    public async Task Overhead_metric_excludes_the_time_the_client_takes_to_upload_the_body()
    {
        // A client that sends half the body, waits 300 ms, then sends the rest: the wait is the client's upload,
        // which goes to tessera_inference_receive_seconds; the overhead histogram must not grow by it.
        await using var s = await TestServer.StartAsync();
        byte[] body = Encoding.UTF8.GetBytes(TestServer.SimpleRequest(A, B));
        Assert.Equal(HttpStatusCode.OK, (await s.Http.PostAsync("v2/models/simple/infer", new ByteArrayContent(body))).StatusCode); // load, JIT
        async Task<Dictionary<string, double>> Sums()
        {
            var text = await s.Http.GetStringAsync("metrics");
            return new[] { "receive", "request", "overhead" }.ToDictionary(m => m, m => double.Parse(text.Split('\n')
                .Single(l => l.StartsWith($"tessera_inference_{m}_seconds_sum{{model=\"simple\",protocol=\"http\"}}")).Split(' ')[^1],
                System.Globalization.CultureInfo.InvariantCulture));
        }
        var before = await Sums();
        var response = await s.Http.PostAsync("v2/models/simple/infer", new TrickleContent(body, TimeSpan.FromMilliseconds(400)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var after = await Sums();
        double receive = after["receive"] - before["receive"], request = after["request"] - before["request"], overhead = after["overhead"] - before["overhead"];
        Assert.True(receive >= 0.3, $"receive {receive} s");
        Assert.True(request >= receive, $"request {request} s < receive {receive} s");
        Assert.True(overhead < 0.05, $"overhead {overhead} s (request {request} s)");
    }

    [Fact]
    public async Task A_client_that_hangs_up_mid_body_counts_as_cancelled_not_as_a_server_error()
    {
        await using var s = await TestServer.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await s.PostJsonAsync("v2/models/simple/infer", TestServer.SimpleRequest(A, B))).Status);
        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            await tcp.ConnectAsync(IPAddress.Loopback, s.Options.HttpPort);
            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                "POST /v2/models/simple/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"inputs\":"));
            await stream.FlushAsync();
            await Task.Delay(200);
        } // closed with 990 bytes unsent
        string metrics = "";
        for (int i = 0; i < 50 && !metrics.Contains("outcome=\"499\""); i++)
        {
            await Task.Delay(100);
            metrics = await s.Http.GetStringAsync("metrics");
        }
        Assert.Contains("tessera_inference_requests_total{model=\"simple\",version=\"\",outcome=\"499\"} 1", metrics);
        Assert.DoesNotContain("outcome=\"500\"", metrics);
    }

    private sealed class TrickleContent(byte[] body, TimeSpan pause) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await stream.WriteAsync(body.AsMemory(0, body.Length / 2));
            await stream.FlushAsync();
            await Task.Delay(pause);
            await stream.WriteAsync(body.AsMemory(body.Length / 2));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = body.Length;
            return true;
        }
    }
}
