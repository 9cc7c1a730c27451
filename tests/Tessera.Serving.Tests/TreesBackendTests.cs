using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Tessera.Serving.Grpc.Inference;
using Tessera.Trees;
using Tessera.Trees.Boosting;
using Tessera.Trees.Data;
using Tessera.Trees.Forest;

namespace Tessera.Serving.Tests;

/// <summary>
/// A repository of Tessera.Trees models (boosted binary, boosted multiclass, boosted regression with FP64 input,
/// a random forest behind dynamic batching), trained here on synthetic data and saved as model.json.
/// </summary>
public sealed class TreesServer : IAsyncLifetime
{
    public const int Features = 6;
    public TestServer Server { get; private set; } = null!;

    /// <summary>The in-process models, loaded back from the files the server serves.</summary>
    public Dictionary<string, ITreeEnsemble> Models { get; } = [];

    /// <summary>Features rounded to 3 decimals so that JSON text round-trips them to the same floats.</summary>
    public static double[] Rows(int rows, int seed)
    {
        var rng = new Random(seed);
        var x = new double[rows * Features];
        for (int i = 0; i < x.Length; i++) x[i] = Math.Round(rng.NextDouble() * 4 - 2, 3);
        return x;
    }

    public static float[] AsFloats(double[] x) => Array.ConvertAll(x, v => (float)v);

    private static TabularData Table(double[] x, Func<double[], int, double> label)
    {
        int rows = x.Length / Features;
        var columns = Enumerable.Range(0, Features).Select(j => FeatureColumn.Numeric("f" + j)).ToArray();
        var y = new double[rows];
        for (int r = 0; r < rows; r++) y[r] = label(x, r * Features);
        return new TabularData(AsFloats(x), rows, columns, y);
    }

    private void Add(string repo, string name, Action<string> save, Func<string, ITreeEnsemble> load, string config)
    {
        string dir = Path.Combine(repo, name, "1");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "model.json");
        save(path);
        Models[name] = load(path);
        File.WriteAllText(Path.Combine(repo, name, "config.pbtxt"), $"name: \"{name}\"\nbackend: \"tessera_trees\"\n{config}");
    }

    public async Task InitializeAsync()
    {
        var x = Rows(400, 1);
        var binary = Table(x, (v, o) => v[o] + 0.5 * v[o + 1] > 0 ? 1 : 0);
        var three = Table(x, (v, o) => v[o] > v[o + 1] ? (v[o] > v[o + 2] ? 0 : 2) : (v[o + 1] > v[o + 2] ? 1 : 2));
        var regression = Table(x, (v, o) => 2 * v[o] - v[o + 1] * v[o + 1] + 0.1 * v[o + 3]);
        Server = await TestServer.StartAsync(prepare: repo =>
        {
            Add(repo, "boosted", p => GradientBooster.Train(binary, new BoosterOptions { Objective = "binary:logistic", Rounds = 20, MaxDepth = 3 }).Save(p),
                BoostedTreesModel.Load, "max_batch_size: 64\n");
            Add(repo, "multiclass", p => GradientBooster.Train(three, new BoosterOptions { Objective = "multi:softprob", Rounds = 10, MaxDepth = 3 }).Save(p),
                BoostedTreesModel.Load, "max_batch_size: 64\n");
            Add(repo, "regressor", p => GradientBooster.Train(regression, new BoosterOptions { Rounds = 20, MaxDepth = 3 }).Save(p),
                BoostedTreesModel.Load, $"max_batch_size: 64\ninput [ {{ name: \"input\" data_type: TYPE_FP64 dims: [ {Features} ] }} ]\n");
            Add(repo, "forest", p => RandomForest.Train(three, new RandomForestOptions { Trees = 15, MaxDepth = 6, Seed = 3 }).Save(p),
                RandomForestModel.Load, "max_batch_size: 16\ndynamic_batching { max_queue_delay_microseconds: 20000 }\ninstance_group [ { count: 1 } ]\n");
            // The config says 5 features, the model has 6: the load must fail and name both.
            Add(repo, "misdeclared", p => GradientBooster.Train(binary, new BoosterOptions { Objective = "binary:logistic", Rounds = 2 }).Save(p),
                BoostedTreesModel.Load, "max_batch_size: 8\ninput [ { name: \"input\" data_type: TYPE_FP32 dims: [ 5 ] } ]\n");
        });
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();

    /// <summary>What the in-process model says for rows <paramref name="x"/>: class probabilities or values, as FP32.</summary>
    public float[] Expected(string model, double[] x)
    {
        var m = Models[model];
        int rows = x.Length / Features;
        var columns = ((IReadOnlyList<FeatureColumn>?)(m as BoostedTreesModel)?.Columns ?? ((RandomForestModel)m).Columns);
        return Array.ConvertAll(m.PredictScores(new TabularData(AsFloats(x), rows, columns, new double[rows]), 1), v => (float)v);
    }

    public static long[] ArgMax(float[] p, int classes) =>
        [.. Enumerable.Range(0, p.Length / classes).Select(r => (long)Enumerable.Range(0, classes).MaxBy(c => p[r * classes + c]))];
}

/// <summary>Tree models behind <c>tessera_trees</c>: metadata, REST JSON and binary, gRPC, batching and bad input.</summary>
public sealed class TreesBackendTests(TreesServer shared) : IClassFixture<TreesServer>
{
    private TestServer S => shared.Server;
    private const int F = TreesServer.Features;

    private static string JsonRequest(double[] x, string datatype = "FP32") =>
        $$"""{"inputs":[{"name":"input","datatype":"{{datatype}}","shape":[{{x.Length / F}},{{F}}],"data":[{{string.Join(",", x.Select(v => v.ToString(CultureInfo.InvariantCulture)))}}]}]}""";

    private static Dictionary<string, JsonElement> Outputs(JsonElement body) =>
        body.GetProperty("outputs").EnumerateArray().ToDictionary(o => o.GetProperty("name").GetString()!);

    private static float[] Floats(JsonElement output) => [.. output.GetProperty("data").EnumerateArray().Select(e => e.GetSingle())];

    [Fact]
    public async Task Metadata_comes_from_the_model_feature_and_class_counts()
    {
        var (status, body) = await S.GetJsonAsync("v2/models/multiclass");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("tessera_trees", body.GetProperty("platform").GetString());
        var input = body.GetProperty("inputs")[0];
        Assert.Equal("input", input.GetProperty("name").GetString());
        Assert.Equal("FP32", input.GetProperty("datatype").GetString());
        Assert.Equal([-1, F], input.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        var outputs = body.GetProperty("outputs").EnumerateArray().ToDictionary(o => o.GetProperty("name").GetString()!);
        Assert.Equal("INT64", outputs["label"].GetProperty("datatype").GetString());
        Assert.Equal([-1, 3], outputs["probabilities"].GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));

        var (_, regressor) = await S.GetJsonAsync("v2/models/regressor");
        Assert.Equal("FP64", regressor.GetProperty("inputs")[0].GetProperty("datatype").GetString());
        Assert.Equal("predictions", regressor.GetProperty("outputs")[0].GetProperty("name").GetString());

        // The config declares no inputs: once loaded, the dashboard shows the model's own (for its try-it panel).
        var (_, dashboard) = await S.GetJsonAsync("api/dashboard");
        var row = dashboard.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == "multiclass");
        Assert.Equal([-1, F], row.GetProperty("inputs")[0].GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Theory]
    [InlineData("boosted", 2)]
    [InlineData("multiclass", 3)]
    [InlineData("forest", 3)]
    public async Task Classifier_over_rest_json_matches_the_in_process_model(string model, int classes)
    {
        var x = TreesServer.Rows(25, 7);
        var (status, body) = await S.PostJsonAsync($"v2/models/{model}/infer", JsonRequest(x));
        Assert.Equal(HttpStatusCode.OK, status);
        var outputs = Outputs(body);
        var expected = shared.Expected(model, x);
        Assert.Equal([25, classes], outputs["probabilities"].GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(expected, Floats(outputs["probabilities"]));
        Assert.Equal(TreesServer.ArgMax(expected, classes), outputs["label"].GetProperty("data").EnumerateArray().Select(e => e.GetInt64()));
        // The model learned something: labels are not all one class.
        Assert.True(outputs["label"].GetProperty("data").EnumerateArray().Select(e => e.GetInt64()).Distinct().Count() > 1);
    }

    [Fact]
    public async Task Regressor_takes_fp64_input_and_returns_fp32_predictions()
    {
        var x = TreesServer.Rows(10, 8);
        var (status, body) = await S.PostJsonAsync("v2/models/regressor/infer", JsonRequest(x, "FP64"));
        Assert.Equal(HttpStatusCode.OK, status);
        var predictions = Outputs(body)["predictions"];
        Assert.Equal("FP32", predictions.GetProperty("datatype").GetString());
        Assert.Equal(shared.Expected("regressor", x), Floats(predictions));

        var (wrongType, error) = await S.PostJsonAsync("v2/models/regressor/infer", JsonRequest(x, "FP32"));
        Assert.Equal(HttpStatusCode.BadRequest, wrongType);
        Assert.Contains("FP64", error.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Binary_tensors_in_and_out_match_the_in_process_model()
    {
        var x = TreesServer.Rows(12, 9);
        var blob = MemoryMarshal.AsBytes(TreesServer.AsFloats(x).AsSpan()).ToArray();
        string header = $$$"""{"inputs":[{"name":"input","datatype":"FP32","shape":[12,{{{F}}}],"parameters":{"binary_data_size":{{{blob.Length}}}}}],"outputs":[{"name":"probabilities","parameters":{"binary_data":true}}]}""";
        using var response = await S.Http.PostAsync("v2/models/multiclass/infer", TestServer.Binary(header, blob));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        int headerLength = int.Parse(response.Headers.GetValues("Inference-Header-Content-Length").Single());
        var bytes = await response.Content.ReadAsByteArrayAsync();
        using var doc = JsonDocument.Parse(bytes.AsMemory(0, headerLength));
        var output = doc.RootElement.GetProperty("outputs").EnumerateArray().Single();
        Assert.Equal("probabilities", output.GetProperty("name").GetString());
        Assert.Equal(12 * 3 * 4, output.GetProperty("parameters").GetProperty("binary_data_size").GetInt32());
        Assert.Equal(shared.Expected("multiclass", x), MemoryMarshal.Cast<byte, float>(bytes.AsSpan(headerLength)).ToArray());
    }

    [Fact]
    public async Task Grpc_raw_contents_match_the_in_process_model()
    {
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(S.Grpc);
        var x = TreesServer.Rows(9, 10);
        var request = new ModelInferRequest { ModelName = "boosted" };
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "input", Datatype = "FP32", Shape = { 9, F } });
        request.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(TreesServer.AsFloats(x).AsSpan())));
        var response = await client.ModelInferAsync(request);
        var names = response.Outputs.Select(o => o.Name).ToList();
        Assert.Equal(["label", "probabilities"], names);
        var expected = shared.Expected("boosted", x);
        Assert.Equal(TreesServer.ArgMax(expected, 2), MemoryMarshal.Cast<byte, long>(response.RawOutputContents[0].Span).ToArray());
        Assert.Equal(expected, MemoryMarshal.Cast<byte, float>(response.RawOutputContents[1].Span).ToArray());

        request.Inputs[0].Shape[1] = F - 1;
        request.RawInputContents[0] = ByteString.CopyFrom(MemoryMarshal.AsBytes(TreesServer.AsFloats(x[..(9 * (F - 1))]).AsSpan()));
        var e = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(request).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains($"[-1,{F}]", e.Status.Detail);
        Assert.Contains($"[9,{F - 1}]", e.Status.Detail);
    }

    [Fact]
    public async Task Concurrent_single_rows_are_batched_and_each_gets_its_own_answer()
    {
        const int requests = 24;
        var rows = Enumerable.Range(0, requests).Select(i => TreesServer.Rows(1, 100 + i)).ToArray();
        var answers = await Task.WhenAll(rows.Select(x => S.PostJsonAsync("v2/models/forest/infer", JsonRequest(x))));
        for (int i = 0; i < requests; i++)
        {
            Assert.Equal(HttpStatusCode.OK, answers[i].Status);
            Assert.Equal(shared.Expected("forest", rows[i]), Floats(Outputs(answers[i].Body)["probabilities"]));
        }
        var metrics = await S.Http.GetStringAsync("metrics");
        double Metric(string name) => double.Parse(metrics.Split('\n').Single(l => l.StartsWith(name + "{model=\"forest\"")).Split(' ')[^1], CultureInfo.InvariantCulture);
        double batches = Metric("tessera_inference_batch_size_count"), batchedRows = Metric("tessera_inference_batch_size_sum");
        Assert.Equal(requests, batchedRows);
        Assert.True(batches < requests, $"{requests} concurrent requests ran as {batches} batches: none were merged");
    }

    [Fact]
    public async Task Concurrent_binary_requests_through_the_batcher_each_read_their_own_pooled_body()
    {
        // Request bodies live in pooled buffers that go back to the pool when a request ends; if one went back
        // while a batch still read it, another request's rows would leak into these answers.
        async Task<(double[] X, float[] P)> One(int i)
        {
            var x = TreesServer.Rows(1 + i % 3, 500 + i);
            var blob = MemoryMarshal.AsBytes(TreesServer.AsFloats(x).AsSpan()).ToArray();
            string header = $$$"""{"inputs":[{"name":"input","datatype":"FP32","shape":[{{{x.Length / F}}},{{{F}}}],"parameters":{"binary_data_size":{{{blob.Length}}}}}],"outputs":[{"name":"probabilities","parameters":{"binary_data":true}}]}""";
            using var response = await S.Http.PostAsync("v2/models/forest/infer", TestServer.Binary(header, blob));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            int headerLength = int.Parse(response.Headers.GetValues("Inference-Header-Content-Length").Single());
            var bytes = await response.Content.ReadAsByteArrayAsync();
            return (x, MemoryMarshal.Cast<byte, float>(bytes.AsSpan(headerLength)).ToArray());
        }
        for (int round = 0; round < 3; round++)
            foreach (var (x, p) in await Task.WhenAll(Enumerable.Range(round * 20, 20).Select(One)))
                Assert.Equal(shared.Expected("forest", x), p);
    }

    [Fact]
    public async Task Wrong_feature_count_returns_400_naming_both_shapes()
    {
        var x = TreesServer.Rows(2, 11)[..(2 * (F - 1))];
        string json = $$"""{"inputs":[{"name":"input","datatype":"FP32","shape":[2,{{F - 1}}],"data":[{{string.Join(",", x.Select(v => v.ToString(CultureInfo.InvariantCulture)))}}]}]}""";
        var (status, body) = await S.PostJsonAsync("v2/models/boosted/infer", json);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        string error = body.GetProperty("error").GetString()!;
        Assert.Contains($"[-1,{F}]", error);
        Assert.Contains($"[2,{F - 1}]", error);

        // A model whose config disagrees with its file fails to load with both counts, and the others keep serving.
        var (bad, reason) = await S.PostJsonAsync("v2/models/misdeclared/infer", JsonRequest(TreesServer.Rows(1, 12)));
        Assert.NotEqual(HttpStatusCode.OK, bad);
        Assert.Contains("[5]", reason.GetProperty("error").GetString());
        Assert.Contains($"{F} features", reason.GetProperty("error").GetString());
        var (ok, _) = await S.PostJsonAsync("v2/models/boosted/infer", JsonRequest(TreesServer.Rows(1, 12)));
        Assert.Equal(HttpStatusCode.OK, ok);
    }

    [Fact]
    public void Backend_rejects_a_model_file_that_is_not_a_trees_model()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-trees-").FullName;
        try
        {
            string path = Path.Combine(dir, "model.json");
            File.WriteAllText(path, """{"format":"something-else","kind":"neural_net"}""");
            var config = new Repository.ModelConfig { Name = "x" };
            var e = Assert.Throws<InvalidDataException>(() => new Backends.TreeEnsembleBackend(path, config));
            Assert.Contains("neural_net", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}
