using System.Globalization;
using System.Text.Json;
using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;
using Tessera.Trees;
using Tessera.Trees.Boosting;
using Tessera.Trees.Data;
using Tessera.Trees.Forest;

namespace Tessera.Serving.Backends;

/// <summary>
/// Serves Tessera.Trees models (<c>tessera trees train --out model.json</c>, boosted trees or a random forest): a
/// config with <c>backend: "tessera_trees"</c> (or that platform), or a version directory holding <c>model.json</c>.
/// </summary>
public sealed class TreeEnsembleBackendFactory : IModelBackendFactory
{
    public const string FileName = "model.json";

    public string Engine => "tessera_trees";

    public bool Handles(ModelConfig config, string versionDirectory) =>
        config.Backend == Engine || config.Platform == Engine || File.Exists(Path.Combine(versionDirectory, ModelFile(config)));

    public IModelBackend Load(ModelConfig config, string versionDirectory) =>
        new TreeEnsembleBackend(Path.Combine(versionDirectory, ModelFile(config)), config);

    // Triton's default_model_filename defaults to model.onnx, which a trees model never is.
    private static string ModelFile(ModelConfig config) =>
        config.DefaultModelFilename.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? config.DefaultModelFilename : FileName;
}

/// <summary>
/// A tree ensemble over a dense feature matrix: input <c>input</c> FP32 (or FP64, when the config declares it)
/// [-1, features] in the model's column order, categorical columns as category codes and NaN for missing.
/// Classifiers answer <c>label</c> INT64 [-1] (index into the model's class labels) and <c>probabilities</c>
/// FP32 [-1, classes]; regressors answer <c>predictions</c> FP32 [-1].
/// </summary>
public sealed class TreeEnsembleBackend : IModelBackend
{
    public const string InputName = "input";

    private readonly ITreeEnsemble _model;
    private readonly IReadOnlyList<FeatureColumn> _columns;
    private readonly Func<float[], int, int, double[]> _predictScores; // (features, rows, threads) → scores
    private readonly int _classes, _threads;

    public TreeEnsembleBackend(string path, ModelConfig config)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"trees model {Path.GetFileName(path)} not found", path);
        (_model, _columns, _predictScores) = LoadModel(path);
        _classes = _model.IsClassification ? _model.ClassLabels!.Count : 0;
        // 0 lets Tessera.Trees decide: it goes parallel only for requests with rows x trees large enough to pay.
        _threads = config.Parameters.TryGetValue("threads", out var t) && int.TryParse(t, CultureInfo.InvariantCulture, out int n) ? n : 0;

        var declared = config.Inputs.FirstOrDefault(i => i.Name == InputName);
        var dataType = declared?.DataType ?? DataType.FP32;
        if (dataType is not (DataType.FP32 or DataType.FP64))
            throw new InvalidDataException($"input '{InputName}' of a trees model must be TYPE_FP32 or TYPE_FP64, not {dataType.Name()}");
        if (declared is not null && (declared.Dims.Length != 1 || declared.Dims[0] != _columns.Count))
            throw new InvalidDataException($"config declares input '{InputName}' with dims [{string.Join(",", declared.Dims)}] but the model has {_columns.Count} features ([{_columns.Count}])");
        Inputs = [new TensorSpec(InputName, dataType, [-1, _columns.Count])];
        Outputs = _model.IsClassification
            ? [new TensorSpec("label", DataType.Int64, [-1]), new TensorSpec("probabilities", DataType.FP32, [-1, _classes])]
            : [new TensorSpec("predictions", DataType.FP32, [-1])];
        // Loaded trees are flat arrays a little smaller than their JSON text.
        MemoryBytes = config.MemoryBytesOverride ?? new FileInfo(path).Length + (1 << 20);
    }

    public string Engine => "tessera_trees";
    public IReadOnlyList<TensorSpec> Inputs { get; }
    public IReadOnlyList<TensorSpec> Outputs { get; }
    public long MemoryBytes { get; }

    /// <summary>The model as Tessera.Trees loaded it (for callers comparing with in-process predictions).</summary>
    public ITreeEnsemble Model => _model;

    private static (ITreeEnsemble, IReadOnlyList<FeatureColumn>, Func<float[], int, int, double[]>) LoadModel(string path)
    {
        switch (ReadKind(path))
        {
            case "gradient_boosting":
                var boosted = BoostedTreesModel.Load(path);
                return (boosted, boosted.Columns, boosted.PredictScores);
            case "random_forest":
                var forest = RandomForestModel.Load(path);
                return (forest, forest.Columns, forest.PredictScores);
            case var kind:
                throw new InvalidDataException($"{Path.GetFileName(path)} is not a Tessera trees model (kind '{kind}')");
        }
    }

    private static string ReadKind(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var doc = JsonDocument.Parse(stream);
            return doc.RootElement.TryGetProperty("kind", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString()! : "";
        }
        catch (JsonException e) { throw new InvalidDataException($"{Path.GetFileName(path)} is not JSON: {e.Message}"); }
    }

    public IReadOnlyList<InferTensor> Infer(IReadOnlyList<InferTensor> inputs, IReadOnlyCollection<string>? outputs)
    {
        var input = inputs.Single(t => t.Name == InputName);
        int features = _columns.Count;
        // The server checks shapes against Inputs first; this guards direct callers.
        if (input.Shape.Length != 2 || input.Shape[1] != features)
            throw InferenceException.BadRequest($"input '{InputName}' expects shape [-1,{features}], got {input.ShapeText}");
        int rows = checked((int)input.Shape[0]);
        float[] x = input.DataType switch
        {
            DataType.FP32 => input.AsSpan<float>().ToArray(),
            // Split thresholds are floats, so rounding the features to float loses nothing a split could see.
            DataType.FP64 => Array.ConvertAll(input.AsSpan<double>().ToArray(), v => (float)v),
            _ => throw InferenceException.BadRequest($"input '{InputName}' must be FP32 or FP64, got {input.DataType.Name()}"),
        };
        // Rows arrive in the model's column order, so the matrix goes to the trees as is (no table, no alignment).
        double[] scores = _predictScores(x, rows, _threads);

        var result = new List<InferTensor>(2);
        if (!_model.IsClassification)
        {
            if (outputs is null || outputs.Contains("predictions"))
                result.Add(InferTensor.FromArray("predictions", DataType.FP32, [rows], Array.ConvertAll(scores, v => (float)v)));
            return result;
        }
        if (outputs is null || outputs.Contains("label"))
        {
            var label = new long[rows];
            for (int r = 0; r < rows; r++)
            {
                int best = 0;
                for (int c = 1; c < _classes; c++) if (scores[r * _classes + c] > scores[r * _classes + best]) best = c;
                label[r] = best;
            }
            result.Add(InferTensor.FromArray("label", DataType.Int64, [rows], label));
        }
        if (outputs is null || outputs.Contains("probabilities"))
            result.Add(InferTensor.FromArray("probabilities", DataType.FP32, [rows, _classes], Array.ConvertAll(scores, v => (float)v)));
        return result;
    }

    public void Dispose() { }
}
