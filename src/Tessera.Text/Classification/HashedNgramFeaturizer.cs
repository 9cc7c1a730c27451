using System.Runtime.CompilerServices;
using Tessera.Text.Segmentation;

namespace Tessera.Text.Classification;

/// <summary>
/// Words (jieba, accurate mode) and word n-grams hashed into 2^bits buckets with FNV-1a (stable across processes),
/// weighted by sublinear TF (1 + ln count) × IDF learnt from the training set, then L2-normalized.
/// </summary>
public sealed class HashedNgramFeaturizer
{
    private readonly JiebaSegmenter _seg;

    public HashedNgramFeaturizer(JiebaSegmenter segmenter, int hashBits, int maxNgram, float[]? idf = null)
    {
        if (hashBits is < 8 or > 26) throw new ArgumentOutOfRangeException(nameof(hashBits), hashBits, "hash bits must be 8..26");
        if (maxNgram is < 1 or > 4) throw new ArgumentOutOfRangeException(nameof(maxNgram), maxNgram, "n-grams must be 1..4");
        _seg = segmenter;
        HashBits = hashBits;
        MaxNgram = maxNgram;
        Idf = idf ?? Enumerable.Repeat(1f, 1 << hashBits).ToArray();
        if (Idf.Length != Dimension) throw new ArgumentException("IDF length must be 2^hashBits", nameof(idf));
    }

    public int HashBits { get; }
    public int MaxNgram { get; }
    public int Dimension => 1 << HashBits;
    public float[] Idf { get; private set; }

    /// <summary>Bucket counts (before weighting) for already-normalized text, sorted by bucket.</summary>
    public (int[] Index, float[] Count) Count(string text)
    {
        var tokens = new List<Token>();
        _seg.Cut(text, tokens);
        var hashes = new List<uint>(tokens.Count);
        foreach (var t in tokens)
        {
            var w = t.Slice(text);
            if (w.IsWhiteSpace()) continue;
            hashes.Add(Fnv(w));
        }
        var counts = new Dictionary<int, float>();
        int mask = Dimension - 1;
        for (int i = 0; i < hashes.Count; i++)
        {
            uint h = hashes[i];
            Add(counts, (int)(Mix(h, 1) & mask));
            for (int n = 2; n <= MaxNgram && i + n <= hashes.Count; n++)
            {
                h = h * 16777619u ^ hashes[i + n - 1];
                Add(counts, (int)(Mix(h, (uint)n) & mask));
            }
        }
        var index = counts.Keys.ToArray();
        Array.Sort(index);
        var count = index.Select(k => counts[k]).ToArray();
        return (index, count);
    }

    /// <summary>TF-IDF weighted, L2-normalized sparse vector for already-normalized text.</summary>
    public (int[] Index, float[] Value) Transform(string text)
    {
        var (index, count) = Count(text);
        double norm = 0;
        for (int k = 0; k < index.Length; k++)
        {
            count[k] = (1f + MathF.Log(count[k])) * Idf[index[k]];
            norm += (double)count[k] * count[k];
        }
        if (norm > 0)
        {
            float inv = (float)(1 / Math.Sqrt(norm));
            for (int k = 0; k < count.Length; k++) count[k] *= inv;
        }
        return (index, count);
    }

    /// <summary>Learns IDF = ln((1 + N) / (1 + df)) + 1 from bucket counts of the training documents.</summary>
    public void FitIdf(IReadOnlyList<int[]> documentBuckets)
    {
        var df = new int[Dimension];
        foreach (var doc in documentBuckets) foreach (int j in doc) df[j]++;
        int n = documentBuckets.Count;
        var idf = new float[Dimension];
        for (int j = 0; j < idf.Length; j++) idf[j] = (float)(Math.Log((1.0 + n) / (1.0 + df[j])) + 1.0);
        Idf = idf;
    }

    private static void Add(Dictionary<int, float> counts, int k) =>
        counts[k] = counts.TryGetValue(k, out float c) ? c + 1 : 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Fnv(ReadOnlySpan<char> s)
    {
        uint h = 2166136261u;
        foreach (char c in s) { h ^= c; h *= 16777619u; }
        return h;
    }

    private static uint Mix(uint h, uint n)
    {
        // finalizer (murmur3 fmix32) with the n-gram order folded in, so "a b" and "ab" land apart
        h ^= n * 0x9E3779B9u;
        h ^= h >> 16; h *= 0x85EBCA6Bu; h ^= h >> 13; h *= 0xC2B2AE35u; h ^= h >> 16;
        return h;
    }
}
