using System.IO.Compression;
using System.Text;
using Tessera.Text.Segmentation;

namespace Tessera.Text.Classification;

/// <summary>A label with its probability.</summary>
public readonly record struct LabelScore(string Label, float Score);

/// <summary>The predicted label and every label's probability (in the model's label order).</summary>
public sealed record TextPrediction(string Label, float Score, IReadOnlyList<LabelScore> Scores);

/// <summary>Options for <see cref="TextClassifier.Train"/>.</summary>
public sealed record TextClassifierOptions
{
    public int HashBits { get; init; } = 18;
    public int MaxNgram { get; init; } = 2;
    public int Epochs { get; init; } = 8;
    public float LearningRate { get; init; } = 0.5f;
    public float L2 { get; init; } = 1e-6f;
    public int Seed { get; init; } = 1;
    public bool HalfWidth { get; init; } = true;
    public bool LowerCase { get; init; } = true;
}

/// <summary>
/// The text-classification pipeline as one model: normalization → jieba segmentation → hashed word n-gram TF-IDF
/// → softmax regression. Trained from (text, label) pairs, saved as one file, and queried with text or UTF-8 bytes.
/// </summary>
/// <example><code>
/// var model = TextClassifier.Train(LabelledTextCsv.ReadFile("train.csv"));
/// model.Save("model.tsc");
/// var p = TextClassifier.Load("model.tsc").Predict("显示目录内容");   // p.Label, p.Scores
/// </code></example>
public sealed class TextClassifier
{
    private static ReadOnlySpan<byte> Magic => "TSTXTCL1"u8;

    private readonly TextNormalizer _normalizer;
    private readonly HashedNgramFeaturizer _features;
    private readonly SoftmaxRegression _model;
    private readonly string[] _labels;

    private TextClassifier(TextNormalizer normalizer, HashedNgramFeaturizer features, SoftmaxRegression model, string[] labels)
    {
        _normalizer = normalizer;
        _features = features;
        _model = model;
        _labels = labels;
    }

    /// <summary>The labels, in score order.</summary>
    public IReadOnlyList<string> Labels => _labels;

    /// <summary>Trains the pipeline on (text, label) examples.</summary>
    public static TextClassifier Train(IReadOnlyList<(string Text, string Label)> examples, TextClassifierOptions? options = null,
        JiebaSegmenter? segmenter = null)
    {
        options ??= new TextClassifierOptions();
        if (examples.Count == 0) throw new ArgumentException("no training examples", nameof(examples));
        var labels = examples.Select(e => e.Label).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (labels.Length < 2) throw new ArgumentException($"need at least two labels, got {labels.Length}", nameof(examples));
        var labelIndex = labels.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => x.i, StringComparer.Ordinal);
        var normalizer = new TextNormalizer(options.HalfWidth, options.LowerCase);
        var features = new HashedNgramFeaturizer(segmenter ?? JiebaSegmenter.Shared, options.HashBits, options.MaxNgram);

        var normalized = new string[examples.Count];
        var buckets = new int[examples.Count][];
        Parallel.For(0, examples.Count, i =>
        {
            normalized[i] = normalizer.Normalize(examples[i].Text);
            buckets[i] = features.Count(normalized[i]).Index;
        });
        features.FitIdf(buckets);
        var xs = new (int[], float[])[examples.Count];
        Parallel.For(0, examples.Count, i => xs[i] = features.Transform(normalized[i]));
        var ys = examples.Select(e => labelIndex[e.Label]).ToArray();
        var model = new SoftmaxRegression(labels.Length, features.Dimension);
        model.Train(xs, ys, options.Epochs, options.LearningRate, options.L2, options.Seed);
        return new TextClassifier(normalizer, features, model, labels);
    }

    /// <summary>Predicts the label of <paramref name="text"/>.</summary>
    public TextPrediction Predict(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var (index, value) = _features.Transform(_normalizer.Normalize(text));
        var probs = new float[_labels.Length];
        _model.Predict(index, value, probs);
        int best = 0;
        for (int k = 1; k < probs.Length; k++) if (probs[k] > probs[best]) best = k;
        var scores = new LabelScore[_labels.Length];
        for (int k = 0; k < scores.Length; k++) scores[k] = new LabelScore(_labels[k], probs[k]);
        return new TextPrediction(_labels[best], probs[best], scores);
    }

    /// <summary>Predicts from UTF-8 bytes (what a server receives as BYTES); invalid UTF-8 becomes U+FFFD.</summary>
    public TextPrediction PredictUtf8(ReadOnlySpan<byte> utf8) => Predict(TextLines.Decode(utf8));

    /// <summary>Accuracy and macro-averaged F1 over labelled examples (unknown labels count as errors).</summary>
    public (double Accuracy, double MacroF1, int[,] Confusion) Evaluate(IReadOnlyList<(string Text, string Label)> examples)
    {
        int k = _labels.Length;
        var confusion = new int[k + 1, k];   // last row: true labels the model does not know
        var predicted = new string[examples.Count];
        Parallel.For(0, examples.Count, i => predicted[i] = Predict(examples[i].Text).Label);
        int correct = 0;
        for (int i = 0; i < examples.Count; i++)
        {
            int t = Array.IndexOf(_labels, examples[i].Label);
            int p = Array.IndexOf(_labels, predicted[i]);
            confusion[t < 0 ? k : t, p]++;
            if (t == p) correct++;
        }
        double f1Sum = 0;
        for (int c = 0; c < k; c++)
        {
            double tp = confusion[c, c], fp = 0, fn = 0;
            for (int r = 0; r <= k; r++) if (r != c) fp += confusion[r, c];
            for (int q = 0; q < k; q++) if (q != c) fn += confusion[c, q];
            f1Sum += tp == 0 ? 0 : 2 * tp / (2 * tp + fp + fn);
        }
        return (examples.Count == 0 ? 0 : (double)correct / examples.Count, f1Sum / k, confusion);
    }

    /// <summary>Saves the whole pipeline (options, labels, IDF, weights) as one gzipped file.</summary>
    public void Save(string path)
    {
        using var file = File.Create(path);
        Save(file);
    }

    public void Save(Stream stream)
    {
        using var gz = new GZipStream(stream, CompressionLevel.Optimal, leaveOpen: true);
        using var w = new BinaryWriter(gz, Encoding.UTF8);
        w.Write(Magic);
        w.Write(_normalizer.HalfWidth);
        w.Write(_normalizer.LowerCase);
        w.Write(_features.HashBits);
        w.Write(_features.MaxNgram);
        w.Write(_labels.Length);
        foreach (var l in _labels) w.Write(l);
        foreach (float f in _features.Idf) w.Write(f);
        foreach (float f in _model.Bias) w.Write(f);
        foreach (float f in _model.Weights) w.Write(f);
    }

    /// <summary>Loads a pipeline saved by <see cref="Save(string)"/>; a damaged file raises <see cref="InvalidDataException"/>.</summary>
    public static TextClassifier Load(string path, JiebaSegmenter? segmenter = null)
    {
        using var file = File.OpenRead(path);
        return Load(file, path, segmenter);
    }

    public static TextClassifier Load(Stream stream, string sourceName, JiebaSegmenter? segmenter = null)
    {
        try
        {
            using var gz = new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true);
            using var r = new BinaryReader(gz, Encoding.UTF8);
            if (!r.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic)) throw new InvalidDataException($"{sourceName}: not a Tessera text classifier");
            var normalizer = new TextNormalizer(r.ReadBoolean(), r.ReadBoolean());
            int bits = r.ReadInt32(), ngram = r.ReadInt32(), k = r.ReadInt32();
            if (bits is < 8 or > 26 || ngram is < 1 or > 4 || k is < 2 or > 100_000) throw new InvalidDataException($"{sourceName}: bad header");
            var labels = new string[k];
            for (int i = 0; i < k; i++) labels[i] = r.ReadString();
            int d = 1 << bits;
            var idf = ReadFloats(r, d);
            var bias = ReadFloats(r, k);
            var weights = ReadFloats(r, k * d);
            var features = new HashedNgramFeaturizer(segmenter ?? JiebaSegmenter.Shared, bits, ngram, idf);
            return new TextClassifier(normalizer, features, new SoftmaxRegression(k, d, weights, bias), labels);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException && e.Message.IndexOf(sourceName, StringComparison.Ordinal) < 0)
        {
            throw new InvalidDataException($"{sourceName}: truncated or damaged text classifier ({e.Message})", e);
        }
    }

    private static float[] ReadFloats(BinaryReader r, int n)
    {
        var a = new float[n];
        var bytes = r.ReadBytes(n * 4);
        if (bytes.Length != n * 4) throw new EndOfStreamException("unexpected end of file");
        Buffer.BlockCopy(bytes, 0, a, 0, bytes.Length);
        return a;
    }
}
