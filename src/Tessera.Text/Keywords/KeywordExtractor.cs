using Tessera.Text.Segmentation;

namespace Tessera.Text.Keywords;

/// <summary>
/// jieba.analyse's keyword extraction: TF-IDF (<see cref="ExtractTfIdf"/>) and TextRank (<see cref="TextRank"/>),
/// with the same filters, weights and orderings, so results match jieba's.
/// </summary>
/// <example><code>
/// var kw = new KeywordExtractor(JiebaSegmenter.Shared);
/// foreach (var (word, weight) in kw.ExtractTfIdf(text, topK: 10)) Console.WriteLine($"{word} {weight:F4}");
/// </code></example>
public sealed class KeywordExtractor
{
    private readonly JiebaSegmenter _seg;
    private readonly Lazy<PosTagger> _pos;   // the posseg model loads only when POS filtering is asked for
    private readonly IdfTable? _idfOverride;

    /// <summary>jieba's default stop words (KeywordExtractor.STOP_WORDS).</summary>
    public HashSet<string> StopWords { get; } = new(StringComparer.Ordinal)
    {
        "the", "of", "is", "and", "to", "in", "that", "we", "for", "an", "are", "by", "be", "as", "on", "with", "can", "if",
        "from", "which", "you", "it", "this", "then", "at", "have", "all", "not", "one", "has", "or",
    };

    public KeywordExtractor(JiebaSegmenter segmenter, IdfTable? idf = null)
    {
        _seg = segmenter;
        _pos = new Lazy<PosTagger>(() => new PosTagger(segmenter));
        _idfOverride = idf;
    }

    /// <summary>The IDF table in use (jieba's idf.txt unless another was given).</summary>
    public IdfTable Idf => _idfOverride ?? IdfTable.Default;

    /// <summary>Adds stop words, one per line.</summary>
    public void AddStopWords(IEnumerable<string> words)
    {
        foreach (var w in words) StopWords.Add(w);
    }

    /// <summary>
    /// TF-IDF keywords: words of two or more chars (POS-filtered when <paramref name="allowPos"/> is given), weighted
    /// by count × idf / (number of counted words), highest first; ties keep first-occurrence order.
    /// </summary>
    public List<(string Word, double Weight)> ExtractTfIdf(string text, int topK = 20, IReadOnlyCollection<string>? allowPos = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        IEnumerable<string> words = allowPos is { Count: > 0 }
            ? _pos.Value.Tag(text).Where(p => allowPos.Contains(p.Tag)).Select(p => p.Word)
            : _seg.Cut(text);
        var freq = new Dictionary<string, double>();
        var order = new List<string>();
        foreach (var w in words)
        {
            if (PyStrip(w) < 2 || StopWords.Contains(w.ToLowerInvariant())) continue;
            if (freq.TryGetValue(w, out double c)) freq[w] = c + 1.0;
            else { freq[w] = 1.0; order.Add(w); }
        }
        double total = 0;
        foreach (var w in order) total += freq[w];
        var idf = Idf;
        var scored = order.Select(w => (Word: w, Weight: freq[w] * (idf[w] / total))).ToList();
        return Top(scored, topK);
    }

    /// <summary>
    /// TextRank keywords: POS-filtered words (default ns, n, vn, v) linked when within 5 words of each other, ranked by
    /// 10 sweeps of weighted PageRank (d = 0.85) and scaled as jieba does; highest first.
    /// </summary>
    public List<(string Word, double Weight)> TextRank(string text, int topK = 20, IReadOnlyCollection<string>? allowPos = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var filter = new HashSet<string>(allowPos ?? ["ns", "n", "vn", "v"]);
        var words = _pos.Value.Tag(text);
        bool Pass((string Word, string Tag) p) =>
            filter.Contains(p.Tag) && PyStrip(p.Word) >= 2 && !StopWords.Contains(p.Word.ToLowerInvariant());

        var cm = new Dictionary<(string, string), int>();
        var cmOrder = new List<(string, string)>();
        for (int i = 0; i < words.Count; i++)
        {
            if (!Pass(words[i])) continue;
            for (int j = i + 1; j < i + 5 && j < words.Count; j++)
            {
                if (!Pass(words[j])) continue;
                var key = (words[i].Word, words[j].Word);
                if (cm.TryGetValue(key, out int c)) cm[key] = c + 1;
                else { cm[key] = 1; cmOrder.Add(key); }
            }
        }
        // The undirected graph, nodes in first-appearance order (Python dict order).
        var graph = new Dictionary<string, List<(string To, double W)>>();
        var nodes = new List<string>();
        void Edge(string a, string b, double w)
        {
            if (!graph.TryGetValue(a, out var list)) { graph[a] = list = new(); nodes.Add(a); }
            list.Add((b, w));
        }
        foreach (var key in cmOrder)
        {
            Edge(key.Item1, key.Item2, cm[key]);
            Edge(key.Item2, key.Item1, cm[key]);
        }
        const double d = 0.85;
        var ws = new Dictionary<string, double>();
        var outSum = new Dictionary<string, double>();
        double wsdef = 1.0 / (nodes.Count == 0 ? 1.0 : nodes.Count);
        foreach (var n in nodes)
        {
            ws[n] = wsdef;
            double s = 0.0;
            foreach (var e in graph[n]) s += e.W;
            outSum[n] = s;
        }
        var sorted = nodes.ToList();
        sorted.Sort(CodePointComparer.Instance);
        for (int it = 0; it < 10; it++)
            foreach (var n in sorted)
            {
                double s = 0;
                foreach (var e in graph[n]) s += e.W / outSum[e.To] * ws[e.To];
                ws[n] = (1 - d) + d * s;
            }
        // jieba starts its max at sys.float_info[3] (min_exp, -1021), its min at the largest double.
        double min = double.MaxValue, max = -1021;
        foreach (var n in nodes) { double w = ws[n]; if (w < min) min = w; if (w > max) max = w; }
        var scored = nodes.Select(n => (Word: n, Weight: (ws[n] - min / 10.0) / (max - min / 10.0))).ToList();
        return Top(scored, topK);
    }

    private static List<(string Word, double Weight)> Top(List<(string Word, double Weight)> scored, int topK)
    {
        // Stable sort, highest first (Python's sorted(reverse=True) keeps equal items in order).
        var ranked = scored.Select((s, i) => (s, i)).OrderByDescending(x => x.s.Weight).ThenBy(x => x.i).Select(x => x.s).ToList();
        return topK > 0 && ranked.Count > topK ? ranked.GetRange(0, topK) : ranked;
    }

    /// <summary>Length in code points after Python's str.strip().</summary>
    private static int PyStrip(string w)
    {
        int a = 0, b = w.Length;
        while (a < b && IsPySpace(w[a])) a++;
        while (b > a && IsPySpace(w[b - 1])) b--;
        int n = 0;
        for (int i = a; i < b; i++) if (!char.IsLowSurrogate(w[i])) n++;
        return n;
    }

    private static bool IsPySpace(char c) => CharClass.IsSpace(c);

    private sealed class CodePointComparer : IComparer<string>
    {
        public static readonly CodePointComparer Instance = new();

        public int Compare(string? x, string? y)
        {
            // Python compares str by code point; UTF-16 ordinal order differs only around surrogates.
            var ex = x!.EnumerateRunes().GetEnumerator();
            var ey = y!.EnumerateRunes().GetEnumerator();
            while (true)
            {
                bool hx = ex.MoveNext(), hy = ey.MoveNext();
                if (!hx || !hy) return hx ? 1 : hy ? -1 : 0;
                int c = ex.Current.Value.CompareTo(ey.Current.Value);
                if (c != 0) return c;
            }
        }
    }
}
