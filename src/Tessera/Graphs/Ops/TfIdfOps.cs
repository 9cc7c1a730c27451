namespace Tessera.Graphs;

/// <summary>How <see cref="TfIdfVectorizerOp"/> turns n-gram counts into features.</summary>
public enum TfIdfMode { TF, IDF, TFIDF }

/// <summary>
/// ONNX TfIdfVectorizer over integer tokens: counts, per row of a [C] or [N, C] input, the n-grams of a fixed pool
/// (lengths min_gram_length..max_gram_length, items up to max_skip_count tokens apart)
/// into a float vector. TF gives the counts, IDF the weight where the count is non-zero, TFIDF count × weight.
/// </summary>
public sealed class TfIdfVectorizerOp : Operation
{
    private readonly int _minGram, _maxGram, _maxSkip, _size;
    private readonly TfIdfMode _mode;
    private readonly double[] _weights;
    /// <summary>Pool n-grams by length-prefixed key ("n:a,b,..."), each to its output index.</summary>
    private readonly Dictionary<string, int> _pool = [];

    public TfIdfVectorizerOp(int minGram, int maxGram, int maxSkip, TfIdfMode mode, long[] pool, long[] ngramCounts, long[] ngramIndexes, double[]? weights)
    {
        if (minGram < 1 || maxGram < minGram || maxSkip < 0)
            throw new ArgumentException($"TfIdfVectorizer: need 1 ≤ min_gram_length ({minGram}) ≤ max_gram_length ({maxGram}) and max_skip_count ({maxSkip}) ≥ 0.");
        (_minGram, _maxGram, _maxSkip, _mode) = (minGram, maxGram, maxSkip, mode);
        int ngram = 0;
        for (int len = 1; len <= ngramCounts.Length; len++)
        {
            long start = ngramCounts[len - 1], end = len < ngramCounts.Length ? ngramCounts[len] : pool.Length;
            if (start < 0 || end > pool.Length || end < start || (end - start) % len != 0)
                throw new ArgumentException($"TfIdfVectorizer: ngram_counts ({string.Join(", ", ngramCounts)}) do not split a pool of {pool.Length} into whole {len}-grams.");
            for (long p = start; p < end; p += len, ngram++)
            {
                if (ngram >= ngramIndexes.Length) throw new ArgumentException($"TfIdfVectorizer: the pool holds more n-grams than ngram_indexes ({ngramIndexes.Length}).");
                if (ngramIndexes[ngram] is < 0 or > int.MaxValue / 2) throw new ArgumentException($"TfIdfVectorizer: ngram index {ngramIndexes[ngram]} is out of range.");
                _pool[Key(len, pool.AsSpan((int)p, len))] = (int)ngramIndexes[ngram];
            }
        }
        _size = ngramIndexes.Length == 0 ? 0 : (int)ngramIndexes.Max() + 1;
        if (weights is not null && weights.Length < _size)
            throw new ArgumentException($"TfIdfVectorizer: {weights.Length} weights for {_size} outputs.");
        _weights = weights ?? [.. Enumerable.Repeat(1.0, _size)];
    }

    public override string Name => "TfIdfVectorizer";

    private static string Key(int n, ReadOnlySpan<long> items) => n + ":" + string.Join(",", items.ToArray());

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        if (inputs[0].DType is not (DType.Int32 or DType.Int64))
            throw new DTypeMismatchException(Name, $"tokens have dtype {inputs[0].DType.Name()}, expected int32 or int64");
        var s = inputs[0].Shape;
        return s.Length switch
        {
            1 => new TensorType(DType.Float32, [_size]),
            2 => new TensorType(DType.Float32, [s[0], _size]),
            _ => throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(s)} must be [C] or [N, C]"),
        };
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        int rows = x.Rank == 2 ? x.Shape[0] : 1, cols = x.Shape[^1];
        var counts = new double[_size];
        var items = new long[_maxGram];
        for (int r = 0; r < rows; r++)
        {
            Array.Clear(counts);
            for (int n = _minGram; n <= _maxGram; n++)
                // A unigram has no gaps: counting it once per skip distance would count it several times.
                for (int skip = 0; skip <= (n == 1 ? 0 : _maxSkip); skip++)
                    for (int start = 0; start + (n - 1) * (skip + 1) < cols; start++)
                    {
                        for (int k = 0; k < n; k++) items[k] = (long)x.GetDouble(r * cols + start + k * (skip + 1));
                        if (_pool.TryGetValue(Key(n, items.AsSpan(0, n)), out int idx)) counts[idx]++;
                    }
            for (int i = 0; i < _size; i++)
                output.SetDouble(r * _size + i, _mode switch
                {
                    TfIdfMode.TF => counts[i],
                    TfIdfMode.IDF => counts[i] > 0 ? _weights[i] : 0,
                    _ => counts[i] * _weights[i],
                });
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => [null];
}
