using System.Runtime.InteropServices;
using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;
using Tessera.Text.Classification;

namespace Tessera.Serving.Backends;

/// <summary>
/// Serves a Tessera text-classification pipeline (<c>tessera text train --out model.textclf</c>): a config with
/// <c>backend: "tessera_text"</c>, or a version directory holding <c>model.textclf</c>.
/// </summary>
public sealed class TextClassifierBackendFactory : IModelBackendFactory
{
    public const string FileName = "model.textclf";

    public string Engine => "tessera_text";

    public bool Handles(ModelConfig config, string versionDirectory) =>
        config.Backend == Engine || File.Exists(Path.Combine(versionDirectory, FileName));

    public IModelBackend Load(ModelConfig config, string versionDirectory)
    {
        var name = config.DefaultModelFilename.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) ? FileName : config.DefaultModelFilename;
        return new TextClassifierBackend(Path.Combine(versionDirectory, name));
    }
}

/// <summary>
/// BYTES in, label and scores out: input <c>TEXT</c> BYTES [-1] (UTF-8; invalid sequences are replaced), outputs
/// <c>LABEL</c> BYTES [-1] and <c>SCORES</c> FP32 [-1, classes] in the order of the classifier's labels.
/// </summary>
public sealed class TextClassifierBackend : IModelBackend
{
    private readonly TextClassifier _classifier;

    public TextClassifierBackend(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"text classifier {Path.GetFileName(path)} not found", path);
        _classifier = TextClassifier.Load(path);
        MemoryBytes = new FileInfo(path).Length * 4 + (32L << 20); // the file is gzipped; the jieba dictionary is shared
        Outputs = [new TensorSpec("LABEL", DataType.Bytes, [-1]), new TensorSpec("SCORES", DataType.FP32, [-1, _classifier.Labels.Count])];
    }

    public string Engine => "tessera_text";
    public IReadOnlyList<TensorSpec> Inputs { get; } = [new TensorSpec("TEXT", DataType.Bytes, [-1])];
    public IReadOnlyList<TensorSpec> Outputs { get; }
    public long MemoryBytes { get; }

    /// <summary>The class labels, in the order of the SCORES columns.</summary>
    public IReadOnlyList<string> Labels => _classifier.Labels;

    public IReadOnlyList<InferTensor> Infer(IReadOnlyList<InferTensor> inputs, IReadOnlyCollection<string>? outputs)
    {
        var text = inputs.Single(t => t.Name == "TEXT");
        var elements = text.GetElements();
        int classes = _classifier.Labels.Count;
        var labels = new string[elements.Count];
        var scores = new float[elements.Count * classes];
        var index = _classifier.Labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i);
        for (int i = 0; i < elements.Count; i++)
        {
            var prediction = _classifier.PredictUtf8(elements[i].Span);
            labels[i] = prediction.Label;
            foreach (var s in prediction.Scores) scores[i * classes + index[s.Label]] = s.Score;
        }
        var result = new List<InferTensor>();
        if (outputs is null || outputs.Contains("LABEL")) result.Add(InferTensor.FromStrings("LABEL", [elements.Count], labels));
        if (outputs is null || outputs.Contains("SCORES")) result.Add(InferTensor.FromArray("SCORES", DataType.FP32, [elements.Count, classes], scores));
        return result;
    }

    public void Dispose() { }
}
