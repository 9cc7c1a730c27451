using System.Net;
using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;

namespace Tessera.Serving.Tests;

/// <summary>Config parsing, version policies and reloading on repository changes.</summary>
public sealed class RepositoryTests
{
    [Fact]
    public void Text_proto_parser_reads_tritons_config_fields()
    {
        var config = ModelConfig.From(TextProto.Parse("""
            # comment
            name: "m"
            platform: "onnxruntime_onnx"
            max_batch_size: 8
            input [ { name: "IN" data_type: TYPE_FP32 dims: [ 3, 224, 224 ] } ]
            output { name: "OUT", data_type: TYPE_STRING, dims: [ 1 ] }
            version_policy: { latest { num_versions: 2 } }
            dynamic_batching { max_queue_delay_microseconds: 500 preferred_batch_size: [ 4, 8 ] default_queue_policy { max_queue_size: 7 } }
            instance_group [ { count: 2 kind: KIND_CPU }, { count: 1 } ]
            parameters { key: "engine" value: { string_value: "onnxruntime" } }
            parameters [ { key: "pinned", value: { string_value: 'true' } } ]
            """), "m");
        Assert.Equal(8, config.MaxBatchSize);
        Assert.Equal(DataType.FP32, config.Inputs[0].DataType);
        Assert.Equal([3L, 224, 224], config.Inputs[0].Dims);
        Assert.Equal(DataType.Bytes, config.Outputs[0].DataType);
        Assert.Equal([2L, 3], config.VersionPolicy.Select([1, 2, 3]));
        Assert.Equal(TimeSpan.FromMicroseconds(500), config.DynamicBatching!.MaxQueueDelay);
        Assert.Equal([4, 8], config.DynamicBatching.PreferredBatchSizes);
        Assert.Equal(7, config.MaxQueueSize);
        Assert.Equal(3, config.InstanceCount);
        Assert.Equal("onnxruntime", config.Engine);
        Assert.True(config.Pinned);
    }

    [Theory]
    [InlineData("version_policy: { all { } }", new long[] { 1, 2, 3 })]
    [InlineData("version_policy: { specific { versions: [1, 3] } }", new long[] { 1, 3 })]
    [InlineData("", new long[] { 3 })]
    public void Version_policies_select_versions(string policy, long[] expected) =>
        Assert.Equal(expected, ModelConfig.From(TextProto.Parse($"name: \"m\"\n{policy}"), "m").VersionPolicy.Select([1, 2, 3]));

    [Theory]
    [InlineData("name: \"m\" input [ { name: \"x\" ")]
    [InlineData("name: \"other\"")]
    [InlineData("name: \"m\" input { name: \"x\" data_type: TYPE_NOPE }")]
    public void Bad_configs_are_reported(string text) =>
        Assert.ThrowsAny<FormatException>(() => ModelConfig.From(TextProto.Parse(text), "m"));

    [Fact]
    public async Task New_version_is_picked_up_without_dropping_requests()
    {
        await using var s = await TestServer.StartAsync();
        string req = """{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}""";
        Assert.Equal(HttpStatusCode.OK, (await s.PostJsonAsync("v2/models/simple/infer", req)).Status);
        int errors = 0;
        string lastVersion = "1";
        using var stop = new CancellationTokenSource();
        var load = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var (status, body) = await s.PostJsonAsync("v2/models/simple/infer", req);
                if (status != HttpStatusCode.OK) Interlocked.Increment(ref errors);
                else lastVersion = body.GetProperty("model_version").GetString()!;
            }
        });
        TestServer.CopyDirectory(Path.Combine(s.Repository, "simple", "1"), Path.Combine(s.Repository, "simple", "2"));
        for (int i = 0; i < 100 && lastVersion != "2"; i++) await Task.Delay(100);
        stop.Cancel();
        await load;
        Assert.Equal("2", lastVersion);
        Assert.Equal(0, errors);
        var index = s.Cache.Index().Where(r => r.Name == "simple").ToList();
        Assert.Equal(["2"], index.Select(r => r.Version));
    }

    [Fact]
    public void Native_engine_loads_tritons_opset_21_simple()
    {
        // Triton's own simple declares opset 21; the importer knows opsets up to 21, so the native engine takes it.
        string dir = Path.Combine(TestServer.FixtureRepository, "simple");
        using var backend = new Backends.TesseraOnnxBackendFactory().Load(ModelConfig.Load(dir, "simple"), Path.Combine(dir, "1"));
        Assert.Equal("tessera", backend.Engine);
    }

    [Fact]
    public async Task Default_engine_is_native_and_falls_back_to_onnxruntime_for_types_it_lacks()
    {
        await using var s = await TestServer.StartAsync(prepare: repo => NativeModels.WriteAddSub(repo, "simple_native"));
        string req = """{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[2,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2]},{"name":"INPUT1","datatype":"INT32","shape":[2,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}""";
        var (status, body) = await s.PostJsonAsync("v2/models/simple_native/infer", req);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(3, body.GetProperty("outputs")[0].GetProperty("data")[16].GetInt32());
        Assert.Equal(1, body.GetProperty("outputs")[1].GetProperty("data")[16].GetInt32());
        var (simpleStatus, simpleBody) = await s.PostJsonAsync("v2/models/simple/infer", req);
        Assert.Equal(HttpStatusCode.OK, simpleStatus);
        Assert.Equal(3, simpleBody.GetProperty("outputs")[0].GetProperty("data")[16].GetInt32());
        Assert.Equal(1, simpleBody.GetProperty("outputs")[1].GetProperty("data")[16].GetInt32());
        Assert.Equal(HttpStatusCode.OK, (await s.PostJsonAsync("v2/models/simple_int8/infer", req.Replace("INT32", "INT8"))).Status);
        var index = s.Cache.Index().ToDictionary(r => r.Name);
        Assert.Equal("tessera", index["simple_native"].Engine);
        Assert.Equal("onnxruntime", index["simple_int8"].Engine);
        // Triton's opset-21 simple used to fall back here; since the importer reached opset 21 it runs natively.
        Assert.Equal("tessera", index["simple"].Engine);
    }
}
